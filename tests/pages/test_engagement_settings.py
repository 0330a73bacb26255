"""The engagement settings page: CS operations preview a lower band and an admin applies it."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import api, signed_in

pytestmark = pytest.mark.browser


async def test_an_admin_previews_a_lower_low_band_sees_the_account_it_would_raise_and_applies_it(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    admin = sqlite_staff["admin"]
    small = await api(sqlite_server, admin, "POST", "/api/v1/accounts", {"name": "Smallco", "plan": "starter", "mrr": 500})
    await api(sqlite_server, admin, "POST", "/api/v1/accounts", {"name": "Bigco", "plan": "growth", "mrr": 20_000})
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await signed_in(browser, sqlite_server, admin)
            await page.goto(f"{sqlite_server.url}/settings/engagement")
            await page.get_by_test_id("setting-low_band").fill("10000")
            await page.get_by_test_id("preview").click()
            await page.get_by_test_id("preview-summary").get_by_text("1 account would change.").wait_for()
            rows = page.get_by_test_id("preview-changes").locator("tbody tr")
            assert await rows.count() == 1
            assert await rows.first.locator("td").all_inner_texts() == [small["id"], "tier", "tech", "low"]
            await screenshot(page, "engagement-settings-preview")

            await page.get_by_test_id("apply-reason").fill("Smaller accounts get low touch")
            await page.get_by_test_id("apply").click()
            await page.get_by_test_id("preview-summary").get_by_text("Applied as version").wait_for()
            applied = await api(sqlite_server, admin, "GET", "/api/v1/engagement/config")
            assert applied["config"]["low_band"] == 10_000
            assert await page.get_by_test_id("config-version").inner_text() == applied["version"]

            await page.get_by_test_id("setting-attended_share").fill("2")
            await page.get_by_test_id("preview").click()
            error = page.get_by_test_id("settings-error")
            await error.get_by_text("attended_share").wait_for()
        finally:
            await browser.close()


async def test_a_host_cannot_open_the_engagement_settings(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    response = await sqlite_server.request("GET", "/settings/engagement", token=sqlite_staff["host"].token)
    assert response.status == 403
