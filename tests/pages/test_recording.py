"""A recorded webinar in Chromium: the host records, everyone sees the badge, and a no-show watches the replay."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import (
    api,
    assert_remote_video_plays,
    enter_room,
    guest,
    schedule,
    signed_in,
    wait_for,
)

pytestmark = pytest.mark.browser

# Seconds recorded: long enough for a replay to have something to play for a while.
RECORDED = 6.0


async def test_a_host_records_a_webinar_and_a_no_show_watches_the_replay_which_lands_in_the_report(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host_staff = sqlite_staff["host"]
    room = await schedule(
        sqlite_server, sqlite_staff["csm"], host_staff, "webinar", contacts=("Ada Acme", "Noor No-Show")
    )
    ada, noor = room.invited
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, host = await signed_in(browser, sqlite_server, host_staff)
            await host.goto(f"{sqlite_server.url}/sessions/{room.session_id}/live")
            await enter_room(host)
            await host.get_by_test_id("go-live").click()
            _, attendee = await guest(browser, ada.join_url)
            await enter_room(attendee)
            await assert_remote_video_plays(attendee)
            assert await attendee.get_by_test_id("recording-badge").is_hidden()

            await host.get_by_test_id("record").click()
            await attendee.get_by_test_id("recording-badge").wait_for(state="visible")
            await host.get_by_test_id("recording-badge").wait_for(state="visible")
            await host.get_by_role("button", name="Stop recording").wait_for()
            await screenshot(attendee, "join-webinar-recording")
            await screenshot(host, "host-webinar-recording")
            await asyncio.sleep(RECORDED)
            await host.get_by_test_id("record").click()
            await attendee.get_by_test_id("recording-badge").wait_for(state="hidden")
            await host.get_by_test_id("end-session").click()
            await host.get_by_test_id("end-session-confirm").click()
            await host.locator("#after-end").wait_for()

            [recording] = await api(sqlite_server, host_staff, "GET", f"/api/v1/sessions/{room.session_id}/recordings")
            assert recording["size_bytes"] > 0

            # Noor missed it; her join link works as the replay link.
            _, replay = await guest(browser, noor.join_url.replace("/join/", "/replay/"))
            video = replay.get_by_test_id("replay-video")
            await wait_for(replay,
                "document.querySelector('[data-testid=replay-video]').readyState >= 1"
            )
            await video.evaluate("v => { v.muted = true; return v.play(); }")
            await wait_for(replay,
                "(() => { const v = document.querySelector('[data-testid=replay-video]');"
                " return v.currentTime > 2 && v.videoWidth > 0; })()",
            )
            await video.evaluate("v => v.pause()")
            await replay.get_by_text("Watched 0:0").wait_for()
            await screenshot(replay, "replay")
        finally:
            await browser.close()

    rows = await api(sqlite_server, host_staff, "GET", f"/api/v1/sessions/{room.session_id}/attendance")
    [noor_row] = [r for r in rows if r["contact_id"] == noor.contact_id]
    assert noor_row["replay_seconds"] >= 2
    assert noor_row["no_show"] is True
    [ada_row] = [r for r in rows if r["contact_id"] == ada.contact_id]
    assert ada_row["replay_seconds"] == 0 and ada_row["no_show"] is False
