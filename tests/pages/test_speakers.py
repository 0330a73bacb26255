"""Speakers from the audience in Chromium: the host invites one attendee, who declines, and another, who checks
camera and microphone in the page and speaks (and shares a screen); the host and the rest of the audience
see the speaker's picture until the host stops it."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page, async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import assert_remote_video_plays, enter_room, guest, schedule, signed_in, wait_for
from tests.pages.test_screen import SCREEN_PLAYS

pytestmark = pytest.mark.browser

# The meter's highest reading over a few seconds, sampled in the page (Chromium's fake microphone beeps).
METER_PEAK = """() => new Promise((resolve) => {
  const meter = document.querySelector('[data-testid=speaker-mic-meter]');
  let peak = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    peak = Math.max(peak, meter.value);
    if (peak > 0 || Date.now() - started > 8000) { clearInterval(timer); resolve(peak); }
  }, 10);
})"""

REMOTE_VIDEOS = "document.querySelectorAll('[data-testid=remote-video]').length"


def person(host: Page, name: str) -> Locator:
    return host.get_by_test_id("participants").locator("li", has_text=name)


async def test_a_host_invites_attendees_to_speak_one_declines_one_speaks_after_a_device_check_until_revoked(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    room = await schedule(
        sqlite_server, sqlite_staff["csm"], sqlite_staff["host"], "webinar", contacts=("Ada Acme", "Bo Acme")
    )
    ada_invite, bo_invite = room.invited
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, host = await signed_in(browser, sqlite_server, sqlite_staff["host"])
            await host.goto(f"{sqlite_server.url}/sessions/{room.session_id}/live")
            await enter_room(host)
            await host.get_by_test_id("go-live").click()
            _, ada = await guest(browser, ada_invite.join_url)
            await enter_room(ada)
            _, bo = await guest(browser, bo_invite.join_url)
            await enter_room(bo)
            await assert_remote_video_plays(bo)

            # Bo is asked first and says no: the host is told, and can ask again.
            await person(host, "Bo Acme").get_by_test_id("speaker-invite").click()
            bo_prompt = bo.get_by_role("dialog", name="The host invites you to speak")
            await bo_prompt.get_by_test_id("speaker-decline").click()
            await bo_prompt.wait_for(state="hidden")
            await host.get_by_text("Bo Acme declined to speak.").wait_for()
            await person(host, "Bo Acme").get_by_test_id("speaker-invite").wait_for()

            # Ada says yes, and checks her camera and microphone before anyone sees her.
            await person(host, "Ada Acme").get_by_test_id("speaker-invite").click()
            await person(host, "Ada Acme").get_by_text("invited to speak").wait_for()
            prompt = ada.get_by_role("dialog", name="The host invites you to speak")
            await prompt.get_by_test_id("speaker-accept").click()
            await wait_for(ada, "document.querySelector('#speaker-dialog [data-testid=local-video]')?.videoWidth > 0")
            assert await ada.evaluate(METER_PEAK) > 0, "the microphone meter never moved"
            assert await prompt.locator("#speaker-camera-select option").count() >= 1
            assert await ada.evaluate(REMOTE_VIDEOS) == 1  # nobody sees her yet: only the host's camera here
            await screenshot(ada, "join-webinar-speaker-check")
            await prompt.get_by_test_id("speaker-start").click()
            await prompt.wait_for(state="hidden")

            # The host and the rest of the audience see her; the host's list says she speaks.
            await person(host, "Ada Acme").get_by_text("speaking", exact=True).wait_for()
            await assert_remote_video_plays(host, 1)
            await host.locator(".tile figcaption", has_text="Ada Acme").wait_for()
            await assert_remote_video_plays(bo, 2)
            await bo.locator(".tile figcaption", has_text="Ada Acme").wait_for()
            await ada.locator(".tile.self").wait_for()
            await screenshot(host, "host-webinar-speaker")
            # A speaker may share a screen too: the rest of the audience sees it large.
            await ada.get_by_test_id("share-screen").click()
            await wait_for(bo, SCREEN_PLAYS)
            await screenshot(bo, "join-webinar-with-speaker")

            # The host ends her turn: her picture goes everywhere and her page is an attendee's again.
            await person(host, "Ada Acme").get_by_test_id("speaker-revoke").click()
            await wait_for(bo, f"{REMOTE_VIDEOS} === 1")
            await bo.get_by_test_id("remote-screen").wait_for(state="hidden")
            await wait_for(host, f"{REMOTE_VIDEOS} === 0")
            await assert_remote_video_plays(bo, 1)
            await ada.get_by_text("The host ended your turn to speak").wait_for()
            assert await ada.get_by_test_id("local-video").count() == 0
            assert await ada.locator("#toggle-camera").is_hidden()
            assert await ada.get_by_test_id("share-screen").is_hidden()
            await person(host, "Ada Acme").get_by_test_id("speaker-invite").wait_for()
        finally:
            await browser.close()
