"""A webinar in two browsers: the attendee sees the host's camera through the server, votes with a click,
and the host's console shows the vote in its live results."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import (
    COUNT_GET_USER_MEDIA,
    PHONE_390,
    assert_remote_video_plays,
    enter_room,
    guest,
    in_view,
    schedule,
    signed_in,
    wait_for,
)

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
            # A webinar attendee only watches: no camera of their own anywhere on the page.
            assert await attendee.get_by_test_id("local-video").count() == 0
            await screenshot(attendee, "join-webinar-video")
            await screenshot(host, "host-webinar")
        finally:
            await browser.close()


async def test_a_phone_attendee_joins_without_devices_sees_nothing_before_go_live_and_keeps_the_video_in_view(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    room = await schedule(sqlite_server, sqlite_staff["csm"], sqlite_staff["host"], "webinar", contacts=("Ada Acme",))
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, host = await signed_in(browser, sqlite_server, sqlite_staff["host"])
            await host.goto(f"{sqlite_server.url}/sessions/{room.session_id}/live")
            await enter_room(host)
            assert await host.get_by_test_id("raise-hand").count() == 0  # the host has nobody to raise a hand to

            context, attendee = await guest(browser, "about:blank", viewport=PHONE_390, is_mobile=True, has_touch=True)
            await context.add_init_script(COUNT_GET_USER_MEDIA)
            await attendee.goto(room.invited[0].join_url)
            # A simple "Join" screen: the name, a speaker check, no camera preview and no permission prompt.
            await attendee.get_by_text("You join as").wait_for()
            assert await attendee.locator("#joining-as").text_content() == "Ada Acme"
            assert await attendee.get_by_test_id("local-video").count() == 0
            assert await attendee.get_by_test_id("join").is_enabled()
            await attendee.get_by_role("button", name="Play a test sound").click()
            await attendee.get_by_text("If you heard it, your sound works").wait_for()
            await screenshot(attendee, "join-webinar-prejoin-phone")
            await enter_room(attendee)

            # Before "Go live": the host's tracks exist, the attendee heard of them and subscribed, and sees nothing.
            await wait_for(host, "window.liveRoom.broadcast.publisher?.connectionState === 'connected'")
            await wait_for(attendee,
                "window.liveRoom.publishers.size > 0 && window.liveRoom.broadcast.subscriber && !window.liveRoom.broadcast.subscribing"
            )
            assert await attendee.get_by_test_id("remote-video").count() == 0
            await attendee.get_by_text("Waiting for the host to start…").wait_for()
            await screenshot(attendee, "join-webinar-waiting-phone")
            person = host.get_by_test_id("participants").locator("li", has_text="Ada Acme")
            await person.wait_for()
            assert await person.get_by_role("button", name="Remove").count() == 1
            assert await person.get_by_role("button", name="Mute").count() == 0  # she sends nothing to mute

            await host.get_by_test_id("go-live").click()
            await assert_remote_video_plays(attendee)
            assert await attendee.evaluate("window.getUserMediaCalls") == 0
            assert await in_view(attendee, "remote-video")

            # Chat, Q&A and polls take turns under the video; the video never leaves the screen.
            await attendee.get_by_role("tab", name="Chat").click()
            assert await in_view(attendee, "chat-input") and await in_view(attendee, "remote-video")
            await attendee.get_by_test_id("chat-input").fill("Hello from my phone")
            await attendee.get_by_test_id("chat-send").click()
            await host.get_by_test_id("chat-log").get_by_text("Hello from my phone").wait_for()
            await screenshot(attendee, "join-webinar-chat-phone")
            await attendee.get_by_role("tab", name="Q&A").click()
            assert await in_view(attendee, "qa-input") and await in_view(attendee, "remote-video")
            assert not await attendee.get_by_test_id("chat-input").is_visible()

            await launch_poll(host, "Which feature next?", ["Exports", "Dashboards"])
            polls_tab = attendee.get_by_role("tab", name="Polls")
            await wait_for(attendee, "document.getElementById('tab-polls').dataset.new === 'true'")
            await polls_tab.click()
            await attendee.get_by_test_id("poll").get_by_text("Which feature next?").wait_for()
            assert await in_view(attendee, "poll") and await in_view(attendee, "remote-video")
            await attendee.get_by_test_id("poll-option").nth(0).click()
            await host.get_by_test_id("poll-results").locator("[data-count='1']").wait_for()
            await screenshot(attendee, "join-webinar-poll-phone")
            width = await attendee.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE_390["width"], f"the phone page scrolls sideways ({width} px wide)"
        finally:
            await browser.close()
