"""A one-on-one in two browsers: each side sees the other's camera peer to peer; chat stays text."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import PHONE, assert_remote_video_plays, enter_room, guest, schedule, signed_in

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)> hello"


async def test_each_side_of_a_one_on_one_sees_the_others_video_and_chat_html_is_shown_as_text(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    csm = sqlite_staff["csm"]
    room = await schedule(sqlite_server, csm, csm, "one_on_one", account="Hooli", contacts=("Sam Hooli",))
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, host = await signed_in(browser, sqlite_server, csm)
            await host.goto(f"{sqlite_server.url}/sessions/{room.session_id}/live")
            await screenshot(host, "host-prejoin")
            await enter_room(host)

            # The attendee is on a phone: the room must work at 375 px.
            _, attendee = await guest(browser, room.invited[0].join_url, viewport=PHONE, is_mobile=True, has_touch=True)
            dialogs: list[str] = []
            attendee.on("dialog", lambda d: dialogs.append(d.message))
            host.on("dialog", lambda d: dialogs.append(d.message))
            await screenshot(attendee, "join-prejoin-phone")
            await enter_room(attendee)

            await assert_remote_video_plays(host)
            await assert_remote_video_plays(attendee)

            await attendee.get_by_test_id("chat-input").fill(XSS)
            await attendee.get_by_test_id("chat-send").click()
            for page in (host, attendee):
                log = page.get_by_test_id("chat-log")
                await log.get_by_text(XSS, exact=True).wait_for()
                assert await log.locator("img").count() == 0
            assert dialogs == []

            await host.get_by_test_id("go-live").click()
            await attendee.get_by_text("Live", exact=True).wait_for()
            # The attendee's hand shows up in the host's participants list.
            await attendee.get_by_test_id("raise-hand").click()
            await host.get_by_test_id("participants").get_by_text("hand raised").wait_for()
            await attendee.get_by_test_id("reaction-applause").click()
            await host.locator(".reactions-layer .floating").first.wait_for(state="attached")

            await screenshot(host, "host-one-on-one")
            await screenshot(attendee, "join-one-on-one-phone")
            width = await attendee.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the phone page scrolls sideways ({width} px wide)"
        finally:
            await browser.close()
