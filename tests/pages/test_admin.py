"""The admin page in Chromium: accounts, a CSV import previewed then confirmed, staff users, webhook deliveries."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, ServerFactory, StaffMember
from tests.pages.support import api, signed_in
from tests.webhooks.test_retry import FlakyReceiver, mark_failed

pytestmark = pytest.mark.browser

@pytest.fixture
async def sqlite_server(make_server: ServerFactory, sqlite_url: str) -> LiveServer:
    """Deliveries go to a receiver on loopback, which only the development setting allows."""
    return await make_server(sqlite_url, webhook_allow_private=True)



async def test_an_admin_edits_accounts_imports_contacts_and_manages_staff_and_nobody_else_may(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], tmp_path: Path
) -> None:
    admin, csm = sqlite_staff["admin"], sqlite_staff["csm"]
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await signed_in(browser, sqlite_server, admin)
            await page.get_by_role("link", name="Admin").click()
            await page.wait_for_url(sqlite_server.url + "/admin")

            create = page.get_by_test_id("account-create")
            await create.get_by_label("Name").fill("Umbrella")
            await create.get_by_label("Plan").fill("growth")
            await create.get_by_label("MRR").fill("1200")
            await create.get_by_label("CSM").select_option(csm.email)
            await create.get_by_label("Email domain").fill("umbrella.test")
            await create.get_by_role("button", name="Create account").click()
            row = page.locator("tr", has_text="Umbrella").first
            await row.get_by_text("umbrella.test").wait_for()
            await row.get_by_role("button", name="Edit").click()
            await page.get_by_role("form", name="Edit Umbrella").get_by_label("MRR").fill("45000")
            await page.get_by_role("button", name="Save Umbrella").click()
            await page.locator("tr", has_text="Umbrella").first.get_by_text("45,000.00").wait_for()
            account = next(a for a in await api(sqlite_server, admin, "GET", "/api/v1/accounts") if a["name"] == "Umbrella")
            assert (account["mrr"], account["csm_email"], account["domain"]) == (45000, csm.email, "umbrella.test")

            bad = tmp_path / "bad.csv"
            bad.write_text("name,email,account\nJill Valentine,jill@umbrella.test,Umbrella\nNo Mail,,Umbrella\n")
            await page.get_by_label("CSV file").set_input_files(str(bad))
            await page.get_by_role("button", name="Preview").click()
            summary = page.get_by_test_id("import-summary")
            await summary.get_by_text("1 new, 0 duplicates skipped, 1 with errors").wait_for()
            await page.get_by_test_id("import-preview").get_by_text("email is empty").wait_for()
            assert await page.get_by_role("button", name="Import 1 contact").is_disabled()
            await screenshot(page, "admin-import-errors")

            good = tmp_path / "good.csv"
            good.write_text(
                "name,email,account\nJill Valentine,jill@umbrella.test,Umbrella\n"
                f"Chris Redfield,chris@umbrella.test,{account['id']}\nJill again,JILL@umbrella.test,umbrella\n"
            )
            await page.get_by_label("CSV file").set_input_files(str(good))
            await page.get_by_role("button", name="Preview").click()
            await summary.get_by_text("2 new, 1 duplicate skipped, 0 with errors").wait_for()
            await page.get_by_role("button", name="Import 2 contacts").click()
            await page.get_by_text("Imported 2 contacts; 1 duplicate skipped.").wait_for()
            contacts = await api(sqlite_server, admin, "GET", f"/api/v1/accounts/{account['id']}/contacts")
            assert sorted(c["name"] for c in contacts) == ["Chris Redfield", "Jill Valentine"]

            # One more by hand, from the account page; a repeated email is refused with the reason.
            await page.goto(f"{sqlite_server.url}/accounts/{account['id']}")
            add = page.get_by_test_id("contact-add")
            await add.get_by_label("Contact name").fill("Rebecca Chambers")
            await add.get_by_label("Contact email").fill("rebecca@umbrella.test")
            await add.get_by_role("button", name="Add contact").click()
            await page.get_by_text("rebecca@umbrella.test").wait_for()
            add = page.get_by_test_id("contact-add")
            await add.get_by_label("Contact name").fill("Jill twice")
            await add.get_by_label("Contact email").fill("jill@umbrella.test")
            await add.get_by_role("button", name="Add contact").click()
            await add.get_by_text("already has a contact with email 'jill@umbrella.test'").wait_for()
            await page.goto(sqlite_server.url + "/admin")

            users = page.get_by_test_id("user-create")
            await users.get_by_label("Name").fill("Barry Burton")
            await users.get_by_label("Email").fill("barry@example.com")
            await users.get_by_label("Role").select_option("csm")
            await users.get_by_label("Password").fill("long enough 1")
            await users.get_by_role("button", name="Add user").click()
            barry = page.locator("tr[data-user='barry@example.com']")
            await barry.get_by_text("active").wait_for()
            await barry.get_by_label("Role of barry@example.com").select_option("host")
            async with page.expect_navigation():  # the page reloads with the saved role
                await barry.get_by_role("button", name="Change role").click()
            page.on("dialog", lambda dialog: dialog.accept())
            await page.locator("tr[data-user='barry@example.com']").get_by_role("button", name="Disable").click()
            await page.locator("tr[data-user='barry@example.com']").get_by_text("disabled").wait_for()
            stored = next(u for u in await api(sqlite_server, admin, "GET", "/api/v1/users") if u["email"] == "barry@example.com")
            assert (stored["role"], stored["disabled"], stored["name"]) == ("host", True, "Barry Burton")
            await screenshot(page, "admin")

            # Anyone but an admin: no Admin link, and the page itself is the 403 page.
            _, csm_page = await signed_in(browser, sqlite_server, csm)
            assert await csm_page.get_by_role("link", name="Admin").count() == 0
            response = await csm_page.goto(sqlite_server.url + "/admin")
            assert response is not None and response.status == 403
            await csm_page.get_by_text("may not manage users").wait_for()
            assert await csm_page.get_by_test_id("admin-users").count() == 0
        finally:
            await browser.close()


async def test_an_admin_adds_a_webhook_and_retries_a_failed_delivery_from_the_page(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    admin = sqlite_staff["admin"]
    receiver = FlakyReceiver()
    await receiver.start()
    try:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                _, page = await signed_in(browser, sqlite_server, admin)
                await page.goto(sqlite_server.url + "/admin#webhooks")
                form = page.get_by_test_id("webhook-create")
                await form.get_by_label("URL").fill(receiver.url)
                await form.get_by_label("account.tier_changed").check()
                await form.get_by_role("button", name="Add webhook").click()
                secret = page.get_by_test_id("webhook-secret")
                await secret.wait_for()
                assert (await secret.text_content() or "").startswith("whsec_")

                account = await api(sqlite_server, admin, "POST", "/api/v1/accounts", {"name": "Wayne", "plan": "p", "mrr": 5})
                await api(sqlite_server, admin, "PATCH", f"/api/v1/accounts/{account['id']}", {"tier": "high", "reason": "r"})
                message_id, _ = await asyncio.wait_for(receiver.ids.get(), 20)
                await mark_failed(sqlite_server.settings.database_url, message_id)
                receiver.accept = True

                await page.get_by_role("link", name="Done").click()
                delivery = page.locator(f"tr[data-delivery='{message_id}']")
                await delivery.get_by_text("failed").wait_for()
                await delivery.get_by_text("HTTP 500").wait_for()
                await screenshot(page, "admin-webhooks-failed")
                await delivery.get_by_role("button", name="Retry").click()
                while (await asyncio.wait_for(receiver.ids.get(), 20)) != (message_id, 204):
                    pass
                for _ in range(50):
                    # The page reloads itself after the retry; ours may cross it (net::ERR_ABORTED): try again.
                    with contextlib.suppress(PlaywrightError):
                        await page.reload()
                    if await delivery.get_by_text("delivered").count():
                        break
                    await asyncio.sleep(0.2)
                await delivery.get_by_text("delivered").wait_for()
                await screenshot(page, "admin-webhooks")
            finally:
                await browser.close()
    finally:
        if receiver.runner is not None:
            await receiver.runner.cleanup()
