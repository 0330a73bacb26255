"""An invited customer reads the start of their session in their own time zone, on the first screen."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import guest, schedule

pytestmark = pytest.mark.browser


async def test_the_join_page_shows_the_start_in_the_visitors_zone(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    scheduled = await schedule(sqlite_server, sqlite_staff["csm"], sqlite_staff["host"], "webinar")
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await guest(browser, scheduled.invited[0].join_url, timezone_id="Asia/Tokyo")
            when = page.locator("#prejoin time[data-local]")
            await when.filter(has_text="(Asia/Tokyo)").wait_for()
            assert "UTC" not in await when.inner_text()
        finally:
            await browser.close()
