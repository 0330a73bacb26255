"""Screen sharing in a one-on-one, peer to peer: the CSM shares and the contact sees a second, moving picture
large beside the CSM's camera; the contact shares back; the browser's own "Stop sharing" ends it."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import assert_remote_video_plays, enter_room, guest, schedule, signed_in, wait_for
from tests.pages.test_screen import SCREEN_PLAYS

pytestmark = pytest.mark.browser


async def assert_screen_moves(page: Page) -> None:
    """The shared screen is shown (16:9, Chromium's fake screen), its clock runs, and it is the large picture."""
    await wait_for(page, SCREEN_PLAYS)
    before = await page.evaluate("document.querySelector('[data-testid=remote-screen]').currentTime")
    await wait_for(page, "(t) => document.querySelector('[data-testid=remote-screen]').currentTime > t + 0.5", before)
    await assert_remote_video_plays(page)  # the other person's camera is still there, small
    screen_box = await page.get_by_test_id("remote-screen").bounding_box()
    camera_box = await page.get_by_test_id("remote-video").bounding_box()
    assert screen_box and camera_box and screen_box["width"] > 2 * camera_box["width"], (screen_box, camera_box)


async def test_either_side_of_a_one_on_one_shares_a_screen_peer_to_peer_and_stopping_takes_it_away(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    csm = sqlite_staff["csm"]
    room = await schedule(sqlite_server, csm, csm, "one_on_one", account="Hooli", contacts=("Sam Hooli",))
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, host = await signed_in(browser, sqlite_server, csm)
            await host.goto(f"{sqlite_server.url}/sessions/{room.session_id}/live")
            await enter_room(host)
            _, contact = await guest(browser, room.invited[0].join_url)
            await enter_room(contact)
            await assert_remote_video_plays(host)
            await assert_remote_video_plays(contact)
            assert await contact.get_by_test_id("remote-screen").is_hidden()

            # The CSM shares (--use-fake-ui-for-media-stream answers getDisplayMedia with a fake screen).
            await host.get_by_test_id("share-screen").click()
            await host.get_by_role("button", name="Stop sharing").wait_for()
            await assert_screen_moves(contact)
            await screenshot(contact, "join-one-on-one-screen")
            await host.get_by_test_id("share-screen").click()
            await contact.get_by_test_id("remote-screen").wait_for(state="hidden")
            await assert_remote_video_plays(contact)

            # The contact shares back; the browser's own "Stop sharing" bar ends the track, which stops it.
            await contact.get_by_test_id("share-screen").click()
            await assert_screen_moves(host)
            await screenshot(host, "host-one-on-one-screen")
            await contact.evaluate(
                "window.liveRoom.screenShare.stream.getVideoTracks()[0].dispatchEvent(new Event('ended'))"
            )
            await host.get_by_test_id("remote-screen").wait_for(state="hidden")
            await contact.get_by_role("button", name="Share screen").wait_for()
            await assert_remote_video_plays(host)
        finally:
            await browser.close()
