"""A one-on-one in two browsers: each side sees the other's camera peer to peer, beside their own small
picture; it goes live by itself, the CSM ends it after a confirm, and its join link then says so."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import (
    PHONE_390,
    VIEWPORT,
    assert_remote_video_plays,
    enter_room,
    guest,
    schedule,
    signed_in,
)

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)> hello"

# The share of the other person's picture (as drawn, letterboxing left out) that the self-view covers.
SELF_VIEW_OVER_PICTURE = """() => {
  const self = document.querySelector('.tile.self').getBoundingClientRect();
  const video = document.querySelector('[data-testid=remote-video]');
  const box = video.getBoundingClientRect();
  const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
  const w = video.videoWidth * scale, h = video.videoHeight * scale;
  const left = box.left + (box.width - w) / 2, top = box.top + (box.height - h) / 2;
  const ix = Math.max(0, Math.min(self.right, left + w) - Math.max(self.left, left));
  const iy = Math.max(0, Math.min(self.bottom, top + h) - Math.max(self.top, top));
  return {covered: (ix * iy) / (w * h), self: [self.width, self.height], picture: [w, h]};
}"""


async def assert_self_view_beside_the_other(page: Page, where: str) -> None:
    found = await page.evaluate(SELF_VIEW_OVER_PICTURE)
    assert found["covered"] < 0.01, f"{where}: the self-view covers {found}"
    assert found["self"][0] >= 60, f"{where}: the self-view is too small to see: {found}"
    assert found["picture"][0] > found["self"][0] * 2, f"{where}: the other person is not the main picture: {found}"


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
            # No webinar furniture: no go-live button, no poll builder, no Q&A, no hand to raise.
            for test_id in ("go-live", "poll-question", "qa-input", "raise-hand"):
                assert await host.get_by_test_id(test_id).count() == 0, test_id
            await host.get_by_text("The call starts by itself when your contact joins.").wait_for()

            # The contact is on a phone: the room must work at 390 px.
            _, attendee = await guest(
                browser, room.invited[0].join_url, viewport=PHONE_390, is_mobile=True, has_touch=True
            )
            dialogs: list[str] = []
            attendee.on("dialog", lambda d: dialogs.append(d.message))
            host.on("dialog", lambda d: dialogs.append(d.message))
            await screenshot(attendee, "join-prejoin-phone")
            await enter_room(attendee)
            for test_id in ("poll", "qa-input"):
                assert await attendee.get_by_test_id(test_id).count() == 0, test_id

            # Both are in: it is live without anyone pressing a button.
            await host.locator("#session-status[data-status=live]").wait_for()
            await attendee.locator("#session-status[data-status=live]").wait_for()
            await assert_remote_video_plays(host)
            await assert_remote_video_plays(attendee)
            await assert_self_view_beside_the_other(host, "desktop")
            await assert_self_view_beside_the_other(attendee, "phone")
            await host.set_viewport_size(PHONE_390)
            await assert_self_view_beside_the_other(host, "desktop page narrowed to a phone")
            await host.set_viewport_size(VIEWPORT)

            # The contact's microphone is on, so the CSM may mute it.
            person = host.get_by_test_id("participants").locator("li", has_text="Sam Hooli")
            await person.get_by_role("button", name="Mute").wait_for()

            await attendee.get_by_role("tab", name="Chat").click()
            await attendee.get_by_test_id("chat-input").fill(XSS)
            await attendee.get_by_test_id("chat-send").click()
            for page in (host, attendee):
                log = page.get_by_test_id("chat-log")
                await log.get_by_text(XSS, exact=True).wait_for()
                assert await log.locator("img").count() == 0
            assert dialogs == []

            await attendee.get_by_test_id("raise-hand").click()
            await host.get_by_test_id("participants").get_by_text("hand raised").wait_for()
            await attendee.get_by_test_id("reaction-applause").click()
            await host.locator(".reactions-layer .floating").first.wait_for(state="attached")

            await screenshot(host, "host-one-on-one")
            await screenshot(attendee, "join-one-on-one-phone")
            width = await attendee.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE_390["width"], f"the phone page scrolls sideways ({width} px wide)"

            # Ending asks first, in the page; "Keep going" keeps it live.
            await host.get_by_test_id("end-session").click()
            dialog = host.get_by_role("dialog", name="End the session for everyone?")
            await dialog.wait_for()
            await screenshot(host, "host-end-confirm")
            await dialog.get_by_role("button", name="Keep going").click()
            await dialog.wait_for(state="hidden")
            assert await host.locator("#session-status").get_attribute("data-status") == "live"
            await host.get_by_test_id("end-session").click()
            await host.get_by_test_id("end-session-confirm").click()

            await attendee.get_by_text("The session has ended. Thank you for joining!").wait_for()
            await host.locator("#session-status[data-status=ended]").wait_for()
            banners = host.get_by_text("The session has ended")
            await banners.first.wait_for()
            assert await banners.count() == 1
            await screenshot(host, "host-one-on-one-ended")
            assert dialogs == []

            # The join link now says so on its first screen, before any camera check.
            await attendee.goto(room.invited[0].join_url)
            await attendee.get_by_role("heading", name="This session has ended").wait_for()
            assert await attendee.get_by_test_id("join").count() == 0
            await screenshot(attendee, "join-ended-phone")
        finally:
            await browser.close()
