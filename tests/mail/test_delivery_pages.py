"""Staff see delivery: a message the server refuses for good is a failure on `/mail` and on the session page,
and the session page's Resend button sends it again once the address works."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import ServerFactory, add_staff
from tests.engagement.support import api, new_account, schedule
from tests.mail.support import SmtpSink, subject
from tests.pages.support import signed_in

pytestmark = pytest.mark.browser


async def test_a_refused_address_is_a_failure_on_the_mail_page_and_resend_sends_it_once_it_works(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    smtp_sink.unknown = {"p2@initech.test"}
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    account = await new_account(server, admin.token, "Initech", contacts=2)
    session = await schedule(server, admin.token, admin.email, title="TPS reports", account_ids=[account["id"]],
                             starts_in=timedelta(days=1))
    await smtp_sink.wait_for(1, subject("Invitation: TPS reports"))
    for _ in range(200):
        failed = (await api(server, "GET", "/api/v1/mail?status=failed", admin.token))["messages"]
        if failed:
            break
        await smtp_sink.wait_for(2, within=0.05)
    # A 550 is final: failed after one attempt, not retried for two hours.
    [refused] = failed
    assert refused["to"] == "p2@initech.test" and refused["attempts"] == 1
    assert "550" in refused["error"] and "No such mailbox" in refused["error"]

    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await signed_in(browser, server, admin)
            await page.goto(f"{server.url}/mail")
            failures = page.get_by_test_id("mail-failures")
            await failures.get_by_text("p2@initech.test").wait_for()
            assert "No such mailbox" in (await failures.inner_text())
            await screenshot(page, "mail-failures")

            smtp_sink.unknown.clear()  # the customer fixed their mailbox
            await page.goto(f"{server.url}/sessions/{session['id']}")
            row = page.locator("tr", has_text="p2@initech.test")
            assert await row.get_by_test_id("mail-status").text_content() == "failed"
            async with page.expect_navigation():  # the form reloads the page once the API answered
                await row.get_by_test_id("resend").click()
            [again] = await smtp_sink.wait_for(1, lambda m: parseaddr(str(m["To"]))[1] == "p2@initech.test")
            assert str(again["Subject"]).startswith("Invitation: TPS reports")
            for _ in range(200):
                listed = await api(server, "GET", f"/api/v1/sessions/{session['id']}/invitations", admin.token)
                if {i["email"]: i["email_status"] for i in listed}["p2@initech.test"] == "sent":
                    break
                await smtp_sink.wait_for(3, within=0.05)
            await page.goto(f"{server.url}/sessions/{session['id']}")
            await screenshot(page, "session-resent")
            assert await page.locator("tr", has_text="p2@initech.test").get_by_test_id("mail-status").text_content() == "sent"
        finally:
            await browser.close()
    # p1 got one invitation; p2 one (the resend); nothing twice.
    await smtp_sink.wait_for(3, within=1.0)
    assert sorted(parseaddr(str(m["To"]))[1] for m in smtp_sink.where(lambda m: True)) == [
        "p1@initech.test", "p2@initech.test"]
