"""Screen sharing in a webinar in Chromium: the host shares (Chromium's fake screen, 1280x720), the attendee
sees it large beside the host's camera, and it goes when the host stops sharing."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import TIMEOUT_MS, assert_remote_video_plays, enter_room, guest, schedule, signed_in

pytestmark = pytest.mark.browser

SCREEN_PLAYS = """() => {
  const v = document.querySelector('[data-testid=remote-screen]');
  // Chromium's fake screen is 16:9 (1280x720, scaled down by the sender under load); the fake camera 4:3.
  return v && !v.closest('[hidden]') && v.readyState >= 2 && v.videoHeight > 0
    && Math.abs(v.videoWidth / v.videoHeight - 16 / 9) < 0.05;
}"""


async def test_a_host_shares_a_screen_and_the_attendee_sees_it_large_with_the_camera_small(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    room = await schedule(sqlite_server, sqlite_staff["csm"], sqlite_staff["host"], "webinar", contacts=("Ada Acme",))
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, host = await signed_in(browser, sqlite_server, sqlite_staff["host"])
            await host.goto(f"{sqlite_server.url}/sessions/{room.session_id}/live")
            await enter_room(host)
            await host.get_by_test_id("go-live").click()
            _, attendee = await guest(browser, room.invited[0].join_url)
            await enter_room(attendee)
            await assert_remote_video_plays(attendee)

            # With --use-fake-ui-for-media-stream, getDisplayMedia picks Chromium's fake screen at once.
            await host.get_by_test_id("share-screen").click()
            await host.get_by_role("button", name="Stop sharing").wait_for()
            await attendee.wait_for_function(SCREEN_PLAYS, timeout=TIMEOUT_MS)
            await assert_remote_video_plays(attendee)  # the camera is still there, in its corner
            screen_box = await attendee.get_by_test_id("remote-screen").bounding_box()
            camera_box = await attendee.get_by_test_id("remote-video").bounding_box()
            assert screen_box and camera_box and screen_box["width"] > 2 * camera_box["width"]
            await screenshot(attendee, "join-webinar-screen")

            await host.get_by_test_id("share-screen").click()
            await attendee.get_by_test_id("remote-screen").wait_for(state="hidden")
            await assert_remote_video_plays(attendee)
        finally:
            await browser.close()
