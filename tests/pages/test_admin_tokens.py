"""API tokens from the admin page: created for a staff user, shown once, working, then revoked.

Drives the token API `GET/POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}` built on the hardening branch.
"""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import signed_in

pytestmark = pytest.mark.browser


async def test_an_admin_creates_a_token_for_a_host_sees_it_once_and_revokes_it(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    admin, host = sqlite_staff["admin"], sqlite_staff["host"]
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await signed_in(browser, sqlite_server, admin)
            await page.goto(sqlite_server.url + "/admin#tokens")
            form = page.get_by_test_id("token-create")
            await form.get_by_label("For").select_option(host.email)
            await form.get_by_label("Name").fill("CRM sync")
            await form.get_by_label("Expires after (days)").fill("30")
            await form.get_by_role("button", name="Create token").click()
            secret = page.get_by_test_id("token-secret")
            await secret.wait_for()
            token = (await secret.text_content() or "").strip()
            assert token
            assert (await sqlite_server.request("GET", "/api/v1/sessions", token)).status == 200

            row = page.get_by_test_id("admin-tokens").locator("tr", has_text="CRM sync")
            await row.get_by_text(host.email).wait_for()
            await row.get_by_text("active").wait_for()
            await screenshot(page, "admin-tokens")
            page.on("dialog", lambda dialog: dialog.accept())
            await row.get_by_role("button", name="Revoke").click()
            await page.get_by_test_id("admin-tokens").locator("tr", has_text="CRM sync").get_by_text("revoked").wait_for()
            assert (await sqlite_server.request("GET", "/api/v1/sessions", token)).status == 401
        finally:
            await browser.close()
