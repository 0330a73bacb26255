"""A webinar in two browsers: the attendee sees the host's camera through the server, votes with a click,
and the host's console shows the vote in its live results."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import assert_remote_video_plays, enter_room, guest, schedule, signed_in, wait_for

pytestmark = pytest.mark.browser


async def launch_poll(host: Page, question: str, options: list[str]) -> None:
    await host.get_by_test_id("poll-question").fill(question)
    inputs = host.get_by_test_id("poll-option-input")
    while await inputs.count() < len(options):
        await host.get_by_role("button", name="+ Add option").click()
    for index, text in enumerate(options):
        await inputs.nth(index).fill(text)
    await host.get_by_test_id("poll-launch").click()


async def test_an_attendee_votes_with_a_click_and_the_host_sees_the_result(
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
            await host.get_by_test_id("participants").get_by_text("Ada Acme").wait_for()

            await launch_poll(host, "Which feature next?", ["Exports", "Dashboards", "SSO"])
            card = attendee.get_by_test_id("poll")
            await card.get_by_text("Which feature next?").wait_for()
            await screenshot(attendee, "join-webinar-poll")
            await card.get_by_test_id("poll-option").nth(1).click()

            await attendee.get_by_test_id("poll-results").wait_for()
            results = host.get_by_test_id("poll-results")
            await results.locator("li", has_text="Dashboards").locator("[data-count='1']").wait_for()
            assert await results.locator("[data-count='1']").count() == 1
            await host.get_by_text("1 voted").wait_for()
            await attendee.get_by_test_id("poll-results").locator("[data-count='1']").wait_for()
            await screenshot(host, "host-webinar-poll")
            await screenshot(attendee, "join-webinar-voted")

            # The connection drops: the page says so, reconnects by itself and gets the room back.
            await attendee.evaluate(
                """() => {
                    const status = document.getElementById('connection');
                    window.statuses = [];
                    new MutationObserver(() => window.statuses.push(status.textContent))
                        .observe(status, {childList: true, characterData: true, subtree: true});
                    window.liveRoom.socket.io.engine.close();
                }"""
            )
            await wait_for(attendee, "window.statuses.includes('Reconnecting…')")
            await wait_for(attendee, "document.getElementById('connection').textContent === 'Connected'")
            await attendee.get_by_test_id("poll").get_by_test_id("poll-results").wait_for()
        finally:
            await browser.close()


async def test_an_attendee_sees_the_hosts_video_through_the_server(
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
            # A webinar attendee only watches: their own camera is off once in the room.
            assert await attendee.get_by_test_id("local-video").evaluate("v => v.srcObject === null")
            await screenshot(attendee, "join-webinar-video")
            await screenshot(host, "host-webinar")
        finally:
            await browser.close()
