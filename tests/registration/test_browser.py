"""Registration in Chromium: from the public page of an open webinar, past a refusal, to the room."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import ServerFactory, add_staff
from tests.engagement.support import api, schedule
from tests.mail.support import SmtpSink, subject, text_of
from tests.pages.support import enter_room, guest

pytestmark = pytest.mark.browser


async def test_a_visitor_registers_on_the_public_page_and_enters_the_room_with_the_mailed_link(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    session = await schedule(server, host.token, host.email, title="Open house", starts_in=timedelta(hours=3))
    await api(server, "PATCH", f"/api/v1/sessions/{session['id']}", host.token, {
        "registration": "open", "questions": [{"id": "role", "text": "What is your role?", "required": True}],
    })

    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await guest(browser, f"{server.url}/r/{session['id']}", timezone_id="Asia/Tokyo")
            # The visitor's own zone: 3 hours from now in Tokyo, named as the browser names it.
            await page.wait_for_function("document.querySelector('time[data-local-time]').textContent.includes('GMT+9')")
            await page.fill("#reg-name", "Rin Visitor")
            await page.fill("#reg-email", "rin@visitor.test")
            await page.get_by_test_id("register-submit").click()
            await page.get_by_text("Please answer: What is your role?").wait_for()
            assert await page.input_value("#reg-name") == "Rin Visitor"
            await page.fill("#reg-q-role", "Head of support")
            await screenshot(page, "registration-form")
            await page.get_by_test_id("register-submit").click()
            await page.get_by_test_id("registered").wait_for()
            await screenshot(page, "registration-done")
            link = await page.get_by_test_id("join-link").get_attribute("href")

            [mail] = await smtp_sink.wait_for(1, subject("You're registered: Open house"))
            assert str(mail["To"]) == "Rin Visitor <rin@visitor.test>"
            assert link is not None and link in text_of(mail)
            await page.get_by_test_id("join-link").click()
            await enter_room(page)
            assert await page.locator("#room-title").text_content() == "Open house"
        finally:
            await browser.close()

    rows = await api(server, "GET", f"/api/v1/sessions/{session['id']}/attendance", host.token)
    [row] = rows
    assert row["name"] == "Rin Visitor" and row["answers"] == {"role": "Head of support"}
    assert row["present_seconds"] > 0
