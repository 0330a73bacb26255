"""The loop end to end in the browser: a new account's contact attends a welcome seminar (chatting and
voting), the host ends it, and the account page shows the move to establishment with its reason."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, ServerFactory, add_staff
from tests.pages.support import TIMEOUT_MS, api, enter_room, guest, schedule, signed_in
from tests.pages.test_webinar import launch_poll

pytestmark = pytest.mark.browser


async def test_attending_a_welcome_seminar_moves_the_account_to_establishment_on_its_page(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    # A browser session lasts seconds; it is scored only with the minimum length turned off (the
    # default, five minutes and a quarter of the scheduled length, is tested in tests/engagement).
    sqlite_server: LiveServer = await make_server(sqlite_url, engagement={"min_scored_minutes": 0, "min_scored_share": 0})
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    host_staff = await add_staff(sqlite_url, "host@example.com", "host")
    room = await schedule(sqlite_server, csm, host_staff, "welcome_seminar", account="Newco", contacts=("Nia Newco",))
    account = await api(sqlite_server, csm, "GET", f"/api/v1/accounts/{room.account_id}")
    assert account["phase"] == "onboarding"
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, host = await signed_in(browser, sqlite_server, host_staff)
            await host.goto(f"{sqlite_server.url}/sessions/{room.session_id}/live")
            await enter_room(host)
            _, attendee = await guest(browser, room.invited[0].join_url)
            await enter_room(attendee)
            # Attending means present for at least half the session as run: she is in before it starts.
            await host.get_by_test_id("participants").get_by_text("Nia Newco").wait_for()
            await host.get_by_test_id("go-live").click()
            await attendee.get_by_text("Live", exact=True).wait_for()
            await attendee.get_by_test_id("chat-input").fill("Hello from Newco!")
            await attendee.get_by_test_id("chat-send").click()
            await host.get_by_test_id("chat-log").get_by_text("Hello from Newco!").wait_for()
            await attendee.get_by_test_id("qa-input").fill("Where do I invite my team?")
            await attendee.get_by_test_id("qa-send").click()
            await host.get_by_text("Where do I invite my team?").wait_for()

            await launch_poll(host, "How far along is your set-up?", ["Not started", "Halfway", "Done"])
            await attendee.get_by_test_id("poll-option").nth(1).click()
            await host.get_by_test_id("poll-results").locator("[data-count='1']").wait_for()
            await attendee.get_by_test_id("reaction-applause").click()

            await host.get_by_test_id("end-session").click()
            await host.get_by_test_id("end-session-confirm").click()
            await attendee.get_by_text("The session has ended").wait_for()
            await host.get_by_text("Open the attendance report").wait_for()

            # Scoring runs after the end; the page shows the move once it has.
            page = host
            for _ in range(int(TIMEOUT_MS / 1000)):
                await page.goto(f"{sqlite_server.url}/accounts/{room.account_id}")
                if "establishment" in (await page.get_by_test_id("account-phase").text_content() or ""):
                    break
                await page.wait_for_timeout(1000)
            assert "establishment" in (await page.get_by_test_id("account-phase").text_content() or "")
            history = page.get_by_test_id("history")
            await history.get_by_text("welcome seminar", exact=False).first.wait_for()
            assert "attended the welcome seminar" in (await history.text_content() or "")
            await screenshot(page, "account-after-welcome-seminar")

            await page.goto(f"{sqlite_server.url}/sessions/{room.session_id}")
            row = page.get_by_test_id("attendance").locator("tr", has_text="Nia Newco")
            assert "no-show" not in (await row.text_content() or "")
            await screenshot(page, "session-report")
        finally:
            await browser.close()
