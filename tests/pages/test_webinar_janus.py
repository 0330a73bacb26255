"""A webinar in Chromium with `LIVE_MEDIA=janus`: the host publishes to a real Janus origin, the attendee watches
from an edge, then speaks when the host invites her, until he ends her turn."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from live.media.janus.handlers import JANUS
from live.media.janus.model import NodeSpec
from tests.browser_support import launch_chromium, screenshot
from tests.conftest import ServerFactory, add_staff
from tests.media.janus_support import running_nodes
from tests.media.support import wait_for as until
from tests.pages.support import assert_remote_video_plays, enter_room, guest, schedule, signed_in, wait_for

NO_PICTURE = "[...document.querySelectorAll('[data-testid=remote-video]')].every((v) => v.videoWidth === 0)"

REMOTE_VIDEOS = "document.querySelectorAll('[data-testid=remote-video]').length"

pytestmark = pytest.mark.browser


async def test_an_attendee_waiting_before_go_live_gets_no_picture_then_the_hosts_camera_through_a_janus_edge(
    make_server: ServerFactory, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_nodes(tmp_path, ("origin", "edge")) as nodes:
        server = await make_server(sqlite_url, media="janus", janus=[NodeSpec(n.url, n.role) for n in nodes])
        host_member = await add_staff(sqlite_url, "host@example.com", "host")
        csm = await add_staff(sqlite_url, "csm@example.com", "csm")
        room = await schedule(server, csm, host_member, "webinar", contacts=("Ada Acme",))
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                _, host = await signed_in(browser, server, host_member)
                await host.goto(f"{server.url}/sessions/{room.session_id}/live")
                await enter_room(host)
                _, attendee = await guest(browser, room.invited[0].join_url)
                await enter_room(attendee)
                # Before "Go live": the attendee heard of the host's tracks and subscribed through the
                # edge, and Janus relays nothing to it (held back), so no picture ever arrives.
                await wait_for(host, "window.liveRoom.broadcast.publisher?.connectionState === 'connected'")
                await wait_for(attendee,
                    "window.liveRoom.publishers.size > 0 && window.liveRoom.broadcast.subscriber && !window.liveRoom.broadcast.subscribing"
                )
                await until(lambda: server.app[JANUS].held(room.session_id) != [], "the attendee's held subscription")
                await attendee.wait_for_timeout(1500)
                assert await attendee.evaluate(NO_PICTURE), "the attendee got a picture before the session was live"
                await attendee.get_by_text("Waiting for the host to start…").wait_for()

                await host.get_by_test_id("go-live").click()
                await assert_remote_video_plays(attendee)  # on the same connection, once Janus relays
                assert server.app[JANUS].held(room.session_id) == []
                placement = server.app[JANUS].placement(room.session_id)
                assert list(placement.values()) == [f"edge@127.0.0.1:{nodes[1].config.api_port}"]
                await screenshot(attendee, "join-webinar-janus")

                # On Janus too the host invites the attendee to speak: she accepts, the host sees her
                # (and not a tile of himself), and the host's revoke takes her picture away.
                ada = host.get_by_test_id("participants").locator("li", has_text="Ada Acme")
                await ada.get_by_test_id("speaker-invite").click()
                prompt = attendee.get_by_role("dialog", name="The host invites you to speak")
                await prompt.get_by_test_id("speaker-accept").click()
                await prompt.get_by_test_id("speaker-start").click()
                await prompt.wait_for(state="hidden")
                await ada.get_by_text("speaking", exact=True).wait_for()
                await assert_remote_video_plays(host, 1)
                await host.locator(".tile figcaption", has_text="Ada Acme").wait_for()
                assert await host.evaluate(REMOTE_VIDEOS) == 1, "the host is shown only the speaker"
                await ada.get_by_test_id("speaker-revoke").click()
                await wait_for(host, f"{REMOTE_VIDEOS} === 0")
                await attendee.get_by_text("The host ended your turn to speak").wait_for()
                await assert_remote_video_plays(attendee, 1)
            finally:
                await browser.close()
