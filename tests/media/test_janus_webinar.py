"""A webinar's screen, recording, hold-back and teardown on real Janus nodes (one origin, one edge, shared by the module).

Real aiortc publishers and viewers, real Socket.IO signaling, recordings read back by ffprobe and ffmpeg.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiortc import RTCPeerConnection

from live.media.janus.handlers import JANUS
from live.media.janus.model import NodeSpec
from tests.conftest import ServerFactory, settings_for, start_server
from tests.media.janus_support import JanusNode
from tests.media.support import TIMEOUT, MovingPicture, Sink, offer_of, wait_for
from tests.media.test_janus import janus_server, live_rooms, publish, watch, webinar
from tests.media.test_screen import share
from tests.recordings.support import decode_errors, ffprobe
from tests.rooms.support import Client, connect

# Seconds recorded: long enough that a file cut short or padded by the start-up shows against 1 s.
RECORD = 10.0


def msids_by_mid(sdp: str) -> dict[str, str]:
    """The msid stream id of each m-line of an offer, by its mid: whose picture a page says it is."""
    found: dict[str, str] = {}
    mid = msid = None
    for line in [*sdp.splitlines(), "m="]:
        if line.startswith("m="):
            if mid is not None and msid is not None:
                found[mid] = msid
            mid = msid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        elif line.startswith("a=msid:"):
            msid = line[len("a=msid:") :].split()[0]
    return found


async def test_a_screen_shared_through_janus_reaches_an_edge_viewer_as_the_screen_and_the_recording_keeps_both(
    make_server: ServerFactory, sqlite_url: str, janus_pair: list[JanusNode], clients: list[Client], sinks: list[Sink]
) -> None:
    server = await janus_server(make_server, sqlite_url, janus_pair)
    host, room = await webinar(server, guests=1)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    host_id = host_client.participant_id
    assert (await host_client.call("session.start", {}))["ok"] is True
    pc = RTCPeerConnection()
    sinks.append(Sink(pc))
    pc.addTransceiver(MovingPicture(), direction="sendonly")
    wrong = await host_client.call("media.publish", {"description": await offer_of(pc), "screen_mid": "7"}, wait=TIMEOUT)
    assert wrong["ok"] is False and "screen_mid '7'" in wrong["error"]["message"], wrong

    await share(host_client, sinks, screen=True)
    await host_client.next_where("media.available", wait=TIMEOUT, participant_id=host_id)
    recording = await host_client.call("recording.start", {}, wait=TIMEOUT)
    started = time.monotonic()
    assert recording["ok"] is True, recording

    guest = await connect(server.url, room.guests[0].token, room.session_id)
    clients.append(guest)
    assert guest.state["screen"] == host_id
    sink, ack = await watch(guest, sinks)
    streams = msids_by_mid(ack["description"]["sdp"])
    assert sorted(streams.values()) == sorted([host_id, host_id, f"{host_id}:screen"]), streams
    [screen_mid] = [mid for mid, stream in streams.items() if stream.endswith(":screen")]
    camera_mids = [mid for mid in streams if mid != screen_mid]
    await wait_for(
        lambda: (320, 240) in sink.sizes_by_mid.get(screen_mid, set())
        and any((640, 480) in sink.sizes_by_mid.get(mid, set()) for mid in camera_mids),
        "the camera and the screen, each on its own m-line, at a viewer on the edge",
    )
    assert sink.sizes_by_mid[screen_mid] == {(320, 240)}, "the m-line named the screen carries only the screen"
    assert server.app[JANUS].placement(room.session_id)[guest.participant_id].startswith("edge@")

    await asyncio.sleep(max(0.0, RECORD - (time.monotonic() - started)))
    stopped = await host_client.call("recording.stop", {}, wait=TIMEOUT)
    real = time.monotonic() - started
    assert stopped == {"ok": True, "id": recording["id"]}

    listed = await server.request("GET", f"/api/v1/sessions/{room.session_id}/recordings", host.token)
    [row] = listed.body
    assert row["status"] == "ready" and row["media_type"] == "video/webm"
    assert abs(row["duration_seconds"] - real) < 1.0, (row, real)
    assert row["screen_url"] is not None
    directory = Path(server.settings.recordings_path) / room.session_id
    main = await ffprobe(directory / f"{recording['id']}.webm")
    assert main.codecs() == ["opus", "vp8"]
    assert abs(main.duration - real) < 1.0, (main.duration, real)
    assert main.warnings == "", main.warnings
    errors, frames = await decode_errors(directory / f"{recording['id']}.webm")
    assert errors == "" and frames >= RECORD, (errors, frames)
    screen = await ffprobe(directory / f"{recording['id']}.screen.webm")
    assert screen.codecs() == ["vp8"]
    assert (screen.streams[0]["width"], screen.streams[0]["height"]) == (320, 240)


async def test_janus_relays_nothing_to_attendees_before_the_session_is_live_and_everything_once_it_is(
    make_server: ServerFactory, sqlite_url: str, janus_pair: list[JanusNode], clients: list[Client], sinks: list[Sink]
) -> None:
    server = await janus_server(make_server, sqlite_url, janus_pair)
    host, room = await webinar(server, guests=1)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    await publish(host_client, sinks)
    await host_client.next_where("media.available", wait=TIMEOUT, participant_id=host_client.participant_id)

    attendee = await connect(server.url, room.guests[0].token, room.session_id)
    clients.append(attendee)
    held, _ = await watch(attendee, sinks)
    # A publisher is never sent their own feed (nobody else publishes: nothing to subscribe to).
    own = await host_client.call("media.subscribe", {}, wait=TIMEOUT)
    assert own["ok"] is False and own["error"]["code"] == "no_media", own
    await wait_for(lambda: held.pc.connectionState == "connected", "the attendee's connection to Janus")
    await asyncio.sleep(1.0)
    assert (held.video_frames, held.audio_frames) == (0, 0), "an attendee got media before the session was live"
    assert server.app[JANUS].held(room.session_id) == [attendee.participant_id]

    assert (await host_client.call("session.start", {}))["ok"] is True
    # On the same connection, without subscribing again.
    await wait_for(held.moving_pictures, "the attendee's pictures once the session is live")
    await wait_for(lambda: held.audio_frames > 10, "the attendee's sound once the session is live")
    assert server.app[JANUS].held(room.session_id) == []


async def test_stopping_the_app_destroys_its_janus_rooms_everywhere_and_finishes_its_recording(
    tmp_path: Path, sqlite_url: str, janus_pair: list[JanusNode], clients: list[Client], sinks: list[Sink]
) -> None:
    specs = [NodeSpec(node.url, node.role) for node in janus_pair]
    server = await start_server(settings_for(sqlite_url, tmp_path, media="janus", janus=specs))
    try:
        host, room = await webinar(server, guests=1)
        host_client = await connect(server.url, host.token, room.session_id)
        clients.append(host_client)
        assert (await host_client.call("session.start", {}))["ok"] is True
        await publish(host_client, sinks)
        viewer = await connect(server.url, room.guests[0].token, room.session_id)
        clients.append(viewer)
        sink, _ = await watch(viewer, sinks)
        await wait_for(sink.moving_pictures, "the viewer's pictures")
        recording = await host_client.call("recording.start", {}, wait=TIMEOUT)
        assert recording["ok"] is True
        await asyncio.sleep(2.0)
        for node in janus_pair:
            assert await live_rooms(node) != [], f"{node.config.name} has the webinar's room"
    finally:
        await server.stop()  # what SIGTERM does: aiohttp's cleanup
    for node in janus_pair:
        assert await live_rooms(node) == [], f"{node.config.name} still has a room of the stopped app"
    await wait_for(lambda: sink.pc.connectionState in ("closed", "failed"), "the viewer's connection to end")
    path = Path(server.settings.recordings_path) / room.session_id / f"{recording['id']}.webm"
    probe = await ffprobe(path)
    assert probe.codecs() == ["opus", "vp8"] and probe.duration > 1.0, probe


async def test_a_recording_on_janus_keeps_going_across_an_origin_outage_once_the_host_publishes_again(
    make_server: ServerFactory, sqlite_url: str, janus_pair: list[JanusNode], clients: list[Client], sinks: list[Sink]
) -> None:
    server = await janus_server(make_server, sqlite_url, janus_pair)
    host, room = await webinar(server, guests=0)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    host_id = host_client.participant_id
    await publish(host_client, sinks)
    await host_client.next_where("media.available", wait=TIMEOUT, participant_id=host_id)
    recording = await host_client.call("recording.start", {}, wait=TIMEOUT)
    started = time.monotonic()
    assert recording["ok"] is True
    await asyncio.sleep(3.0)

    origin = janus_pair[0]
    try:
        await origin.kill()
        told = await host_client.next("media.unavailable", wait=TIMEOUT)
        assert told["reason"] == "media_server_down"
    finally:
        await origin.start()  # back for the module's other tests whatever happened
    origin_name = f"origin@127.0.0.1:{origin.config.api_port}"
    await wait_for(lambda: server.app[JANUS].node_up(origin_name), "the app to reconnect to the origin")
    await publish(host_client, sinks)  # what the host's page does every 3 s until it works
    await host_client.next_where("media.available", wait=TIMEOUT, participant_id=host_id)
    await asyncio.sleep(3.0)
    stopped = await host_client.call("recording.stop", {}, wait=TIMEOUT)
    real = time.monotonic() - started
    assert stopped == {"ok": True, "id": recording["id"]}

    path = Path(server.settings.recordings_path) / room.session_id / f"{recording['id']}.webm"
    probe = await ffprobe(path)
    assert probe.codecs() == ["opus", "vp8"]
    # The file runs to the stop, so the pictures after the outage are in it, on the wall clock.
    assert abs(probe.duration - real) < 1.0, (probe.duration, real)
    errors, frames = await decode_errors(path)
    assert errors == "" and frames >= 6, (errors, frames)
