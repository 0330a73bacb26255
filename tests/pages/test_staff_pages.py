"""Staff pages in the browser: a failed sign-in says why; each page renders, with screenshots kept."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import PHONE, TIMEOUT_MS, VIEWPORT, api, schedule, signed_in

pytestmark = pytest.mark.browser


async def test_a_wrong_password_shows_the_login_error(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            await page.goto(sqlite_server.url + "/accounts")
            await page.wait_for_url(lambda url: url.endswith("/login?next=/accounts"))
            await page.fill("#email", sqlite_staff["csm"].email)
            await page.fill("#password", "not the password")
            await page.click("button[type=submit]")
            error = page.get_by_test_id("login-error")
            await error.wait_for()
            assert "do not match" in (await error.text_content() or "")
            await screenshot(page, "login-error")

            await page.fill("#password", sqlite_staff["csm"].password)
            await page.click("button[type=submit]")
            await page.wait_for_url(sqlite_server.url + "/accounts")
        finally:
            await browser.close()


async def test_the_staff_pages_render_and_the_schedule_form_creates_a_session(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    csm = sqlite_staff["csm"]
    room = await schedule(sqlite_server, csm, csm, "webinar", account="Globex", contacts=("Gia Globex", "Gus Globex"))
    await api(sqlite_server, csm, "POST", "/api/v1/accounts", {"name": "Initech", "plan": "enterprise", "mrr": 18_000})
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await signed_in(browser, sqlite_server, csm)
            await screenshot(page, "today")
            await page.goto(sqlite_server.url + "/accounts")
            await page.get_by_role("link", name="MRR").click()
            await page.wait_for_url(lambda url: "sort=mrr" in url)
            await screenshot(page, "accounts")
            await page.goto(f"{sqlite_server.url}/accounts/{room.account_id}")
            await screenshot(page, "account")
            await page.goto(f"{sqlite_server.url}/sessions/{room.session_id}")
            await screenshot(page, "session")

            await page.goto(sqlite_server.url + "/sessions")
            await page.get_by_label("One-on-one").check()
            await page.get_by_label("Title").fill("Check-in with Initech")
            await page.get_by_label("Starts").fill("2031-05-04T10:30")
            await page.get_by_label("Invite accounts").select_option(label="Initech · onboarding")
            await screenshot(page, "sessions")
            await page.get_by_role("button", name="Schedule").click()
            await page.wait_for_url(lambda url: "/sessions/" in url)
            await page.get_by_role("heading", name="Check-in with Initech").wait_for()
            sessions = await api(sqlite_server, csm, "GET", "/api/v1/sessions")
            created = next(s for s in sessions if s["title"] == "Check-in with Initech")
            assert created["kind"] == "one_on_one"

            await page.set_viewport_size(PHONE)
            await page.goto(f"{sqlite_server.url}/accounts/{room.account_id}")
            await screenshot(page, "account-phone")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the account page scrolls sideways at 375 px ({width} px)"
        finally:
            await browser.close()
