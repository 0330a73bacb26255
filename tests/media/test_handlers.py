"""Media through the running server: real Socket.IO clients signal, real aiortc peers send and decode.

One-on-ones negotiate peer to peer over `rtc.signal`; webinars publish to and subscribe from the
server's forwarder with `media.publish` / `media.subscribe`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from live.media.events import AnswerAck, MediaAvailable
from live.media.handlers import MEDIA
from tests.conftest import LiveServer, StaffMember, add_staff, settings_for, start_server
from tests.media.support import HEIGHT, TIMEOUT, WIDTH, MovingPicture, Sink, answer_of, offer_of, wait_for
from tests.rooms.support import Client, Room, connect, make_room

Join = Callable[[str, str], Awaitable[Client]]


@pytest.fixture
async def join(sqlite_server: LiveServer) -> AsyncIterator[Join]:
    clients: list[Client] = []

    async def make(token: str, session_id: str) -> Client:
        client = await connect(sqlite_server.url, token, session_id)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def webinar(server: LiveServer, host: StaffMember, guests: int = 3) -> Room:
    return await make_room(server.settings.database_url, server.settings.secret_key, host.id, guests=guests)


async def next_media_available(client: Client, participant_id: str) -> None:
    payload = await client.next_where("media.available", wait=TIMEOUT, participant_id=participant_id)
    MediaAvailable.model_validate(payload)


async def publish(client: Client, sinks: list[Sink]) -> Sink:
    """The client publishes a 640x480 moving picture and audio; returns its (publishing) peer."""
    pc = RTCPeerConnection()
    sink = Sink(pc)
    sinks.append(sink)
    pc.addTransceiver(MovingPicture(), direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    ack = await client.call("media.publish", {"description": await offer_of(pc)}, wait=TIMEOUT)
    AnswerAck.model_validate(ack)
    await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    return sink


async def subscribe(client: Client, sinks: list[Sink], publishers: int = 1) -> tuple[Sink, dict[str, Any]]:
    """A fresh subscriber connection with one video and one audio m-line per publisher, as pages do."""
    pc = RTCPeerConnection()
    sink = Sink(pc)
    sinks.append(sink)
    for _ in range(publishers):
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
    ack = await client.call("media.subscribe", {"description": await offer_of(pc)}, wait=TIMEOUT)
    AnswerAck.model_validate(ack)
    await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    return sink, ack


def directions(answer: dict[str, Any]) -> list[str]:
    sdp = answer["description"]["sdp"]
    return [line[2:] for line in sdp.splitlines() if line in ("a=sendonly", "a=recvonly", "a=sendrecv", "a=inactive")]


def stream_ids(answer: dict[str, Any]) -> list[str]:
    sdp = answer["description"]["sdp"]
    return [line.split()[0][len("a=msid:") :] for line in sdp.splitlines() if line.startswith("a=msid:")]


async def test_a_one_on_one_negotiated_over_rtc_signal_carries_pictures_both_ways(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join, sinks: list[Sink]
) -> None:
    csm = sqlite_staff["csm"]
    room = await make_room(
        sqlite_server.settings.database_url, sqlite_server.settings.secret_key, csm.id, guests=1, kind="one_on_one"
    )
    staff_client = await join(csm.token, room.session_id)
    guest_client = await join(room.guests[0].token, room.session_id)
    assert guest_client.state["ice_servers"] == []

    # The CSM offers a 640x480 picture and expects one back; aiortc does not trickle, so the offer
    # carries every candidate and goes as one `rtc.signal`.
    staff_pc = RTCPeerConnection()
    staff_sink = Sink(staff_pc)
    sinks.append(staff_sink)
    staff_pc.addTransceiver(MovingPicture(), direction="sendrecv")
    offer = await offer_of(staff_pc)
    ack = await staff_client.call("rtc.signal", {"to": guest_client.participant_id, "description": offer})
    assert ack == {"ok": True}

    relayed = await guest_client.next("rtc.signal", wait=TIMEOUT)
    assert relayed == {"from": staff_client.participant_id, "description": offer}
    guest_pc = RTCPeerConnection()
    guest_sink = Sink(guest_pc)
    sinks.append(guest_sink)
    await guest_pc.setRemoteDescription(RTCSessionDescription(**relayed["description"]))
    # As a browser does: the guest's camera goes on the transceiver the offer created.
    guest_pc.addTrack(MovingPicture(brightness=200, width=320, height=240))
    answer = await answer_of(guest_pc)
    ack = await guest_client.call("rtc.signal", {"to": staff_client.participant_id, "description": answer})
    assert ack == {"ok": True}

    relayed = await staff_client.next("rtc.signal", wait=TIMEOUT)
    assert relayed == {"from": guest_client.participant_id, "description": answer}
    await staff_pc.setRemoteDescription(RTCSessionDescription(**relayed["description"]))

    await wait_for(
        lambda: staff_sink.moving_pictures() and guest_sink.moving_pictures(), "moving pictures at both ends"
    )
    assert set(guest_sink.sizes) == {(WIDTH, HEIGHT)}
    assert set(staff_sink.sizes) == {(320, 240)}
    # The server only signalled: no media of its own in a one-on-one.
    assert sqlite_server.app[MEDIA].get(room.session_id) is None


async def test_camera_time_from_media_state_reaches_the_attendance_report(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join
) -> None:
    csm = sqlite_staff["csm"]
    room = await make_room(
        sqlite_server.settings.database_url, sqlite_server.settings.secret_key, csm.id, guests=1, kind="one_on_one"
    )
    staff_client = await join(csm.token, room.session_id)
    guest_client = await join(room.guests[0].token, room.session_id)
    # A one-on-one goes live by itself once the CSM and the contact are both in.
    await staff_client.next("session.started")
    assert await guest_client.call("media.state", {"camera": True, "mic": True}) == {"ok": True}
    await asyncio.sleep(1.5)
    assert await guest_client.call("media.state", {"camera": False, "mic": True}) == {"ok": True}
    await asyncio.sleep(0.5)
    assert (await staff_client.call("session.end", {}))["ok"] is True

    response = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/attendance", csm.token)
    assert response.status == 200
    guest = next(row for row in response.body if row["participant_id"] == guest_client.participant_id)
    # 1.5 s on, give or take the round trips of two acks on a busy machine.
    assert 1.0 <= guest["camera_seconds"] <= 3.0
    assert guest["camera_seconds"] < guest["present_seconds"]


async def test_three_attendees_decode_the_hosts_moving_640x480_picture_and_sound(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join, sinks: list[Sink]
) -> None:
    room = await webinar(sqlite_server, sqlite_staff["host"])
    host = await join(sqlite_staff["host"].token, room.session_id)
    assert (await host.call("session.start", {}))["ok"] is True
    attendees = [await join(guest.token, room.session_id) for guest in room.guests]
    await publish(host, sinks)
    # Everyone hears that the host's tracks are there (once its connection is up).
    for attendee in attendees:
        await next_media_available(attendee, host.participant_id)

    viewers = []
    for attendee in attendees:
        viewer, ack = await subscribe(attendee, sinks)
        assert stream_ids(ack) == [host.participant_id, host.participant_id]
        assert directions(ack) == ["sendonly", "sendonly"]
        viewers.append(viewer)
    await wait_for(
        lambda: all(v.moving_pictures() and v.audio_frames >= 10 for v in viewers),
        "moving pictures and sound at every attendee",
    )
    for viewer in viewers:
        assert set(viewer.sizes) == {(WIDTH, HEIGHT)}
    newcomer = await join(sqlite_staff["csm"].token, room.session_id)
    assert newcomer.state["publishers"] == [host.participant_id]


async def test_the_audience_receives_no_media_before_the_host_goes_live_and_the_picture_after(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join, sinks: list[Sink]
) -> None:
    room = await webinar(sqlite_server, sqlite_staff["host"], guests=1)
    host = await join(sqlite_staff["host"].token, room.session_id)
    co_host = await join(sqlite_staff["csm"].token, room.session_id)
    attendee = await join(room.guests[0].token, room.session_id)
    await publish(host, sinks)
    await next_media_available(attendee, host.participant_id)

    waiting, ack = await subscribe(attendee, sinks)
    assert directions(ack) == ["inactive", "inactive"]
    preview, ack = await subscribe(co_host, sinks)
    assert directions(ack) == ["sendonly", "sendonly"]
    # Staff see and hear the host's preview while the attendee's connection carries nothing at all.
    await wait_for(lambda: preview.moving_pictures() and preview.audio_frames >= 10, "the co-host's preview")
    assert waiting.video_frames == 0 and waiting.audio_frames == 0
    received = [s for s in (await waiting.pc.getStats()).values() if s.type == "inbound-rtp"]
    assert sum(s.packetsReceived for s in received) == 0

    assert (await host.call("session.start", {}))["ok"] is True
    await next_media_available(attendee, host.participant_id)
    watching, ack = await subscribe(attendee, sinks)
    assert directions(ack) == ["sendonly", "sendonly"]
    await wait_for(lambda: watching.moving_pictures() and watching.audio_frames >= 10, "the picture after go-live")
    assert set(watching.sizes) == {(WIDTH, HEIGHT)}


async def test_attendees_subscribed_before_the_host_publishes_hear_of_it_and_resubscribe(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join, sinks: list[Sink]
) -> None:
    room = await webinar(sqlite_server, sqlite_staff["host"], guests=2)
    host = await join(sqlite_staff["host"].token, room.session_id)
    assert (await host.call("session.start", {}))["ok"] is True
    attendees = [await join(guest.token, room.session_id) for guest in room.guests]
    assert attendees[0].state["publishers"] == []
    early = []
    for attendee in attendees:
        sink, ack = await subscribe(attendee, sinks)
        assert directions(ack) == ["inactive", "inactive"]  # nothing published yet
        early.append(sink)

    await publish(host, sinks)
    viewers = []
    for attendee, old in zip(attendees, early, strict=True):
        await next_media_available(attendee, host.participant_id)
        viewer, _ = await subscribe(attendee, sinks)
        await old.close()
        viewers.append(viewer)
    await wait_for(lambda: all(v.moving_pictures() for v in viewers), "moving pictures after re-subscribing")
    assert all(set(v.sizes) == {(WIDTH, HEIGHT)} for v in viewers)
    router = sqlite_server.app[MEDIA].get(room.session_id)
    assert router is not None and sorted(router.subscribers) == sorted(a.participant_id for a in attendees)


async def test_media_refusals_answer_with_a_code_and_leave_the_connection_usable(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join
) -> None:
    room = await webinar(sqlite_server, sqlite_staff["host"], guests=1)
    host = await join(sqlite_staff["host"].token, room.session_id)
    attendee = await join(room.guests[0].token, room.session_id)
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver(MovingPicture(), direction="sendonly")
        offer = await offer_of(pc)
    finally:
        await pc.close()

    refused = await attendee.call("media.publish", {"description": offer}, wait=TIMEOUT)
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert "'attendee'" in refused["error"]["message"]

    for garbage in ("hello", "v=0\r\nm=video banana\r\n", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"):
        refused = await host.call("media.publish", {"description": {"type": "offer", "sdp": garbage}}, wait=TIMEOUT)
        assert refused["ok"] is False and refused["error"]["code"] == "invalid", garbage
        assert refused["error"]["message"]
    for bad in ({"description": {"type": "answer", "sdp": offer["sdp"]}}, {"description": "sdp"}, {}, {"sdp": "x"}):
        refused = await attendee.call("media.subscribe", bad, wait=TIMEOUT)
        assert refused["ok"] is False and refused["error"]["code"] == "invalid", bad

    csm = sqlite_staff["csm"]
    one_on_one = await make_room(
        sqlite_server.settings.database_url, sqlite_server.settings.secret_key, csm.id, guests=1, kind="one_on_one"
    )
    staff_client = await join(csm.token, one_on_one.session_id)
    guest_client = await join(one_on_one.guests[0].token, one_on_one.session_id)
    for client, event in ((staff_client, "media.publish"), (guest_client, "media.subscribe")):
        refused = await client.call(event, {"description": offer}, wait=TIMEOUT)
        assert refused["ok"] is False and refused["error"]["code"] == "wrong_kind"
        assert "peer to peer" in refused["error"]["message"]

    for client in (host, attendee, staff_client, guest_client):
        assert (await client.call("chat.send", {"text": "still here"}))["ok"] is True
    assert sqlite_server.app[MEDIA].get(room.session_id) is None


async def test_the_host_leaving_ends_the_pictures_and_tells_the_room(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join, sinks: list[Sink]
) -> None:
    room = await webinar(sqlite_server, sqlite_staff["host"], guests=2)
    host = await join(sqlite_staff["host"].token, room.session_id)
    assert (await host.call("session.start", {}))["ok"] is True
    attendees = [await join(guest.token, room.session_id) for guest in room.guests]
    publisher = await publish(host, sinks)
    for attendee in attendees:
        await next_media_available(attendee, host.participant_id)
    viewers = [(await subscribe(attendee, sinks))[0] for attendee in attendees]
    await wait_for(lambda: all(v.video_frames >= 5 for v in viewers), "pictures at every attendee")

    await host.close()
    for attendee in attendees:
        await next_media_available(attendee, host.participant_id)
    await wait_for(lambda: all(v.ended == {"video", "audio"} for v in viewers), "the attendees' tracks to end")
    router = sqlite_server.app[MEDIA].get(room.session_id)
    assert router is not None and router.publishers == []
    await wait_for(lambda: publisher.pc.connectionState in ("closed", "failed"), "the host's media connection to close")


async def test_a_removed_co_host_stops_publishing(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join, sinks: list[Sink]
) -> None:
    room = await webinar(sqlite_server, sqlite_staff["host"], guests=1)
    host = await join(sqlite_staff["host"].token, room.session_id)
    co_host = await join(sqlite_staff["csm"].token, room.session_id)
    assert (await host.call("session.start", {}))["ok"] is True
    attendee = await join(room.guests[0].token, room.session_id)
    await publish(co_host, sinks)
    await next_media_available(attendee, co_host.participant_id)
    viewer, _ = await subscribe(attendee, sinks)
    await wait_for(lambda: viewer.video_frames >= 5, "the co-host's pictures")

    assert await host.call("moderation.remove", {"participant_id": co_host.participant_id}) == {"ok": True}
    await next_media_available(attendee, co_host.participant_id)
    await wait_for(lambda: viewer.ended == {"video", "audio"}, "the co-host's tracks to end")


async def test_media_closes_when_the_session_ends(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Join, sinks: list[Sink]
) -> None:
    room = await webinar(sqlite_server, sqlite_staff["host"], guests=1)
    host = await join(sqlite_staff["host"].token, room.session_id)
    attendee = await join(room.guests[0].token, room.session_id)
    assert (await host.call("session.start", {}))["ok"] is True
    await publish(host, sinks)
    viewer, _ = await subscribe(attendee, sinks)
    await wait_for(lambda: viewer.video_frames >= 5, "the host's pictures")
    assert (await host.call("session.end", {}))["ok"] is True

    await wait_for(lambda: sqlite_server.app[MEDIA].get(room.session_id) is None, "the session's media to close")
    await wait_for(lambda: viewer.pc.connectionState in ("closed", "failed"), "the attendee's connection to close")
    refused = await host.call("media.publish", {"description": {"type": "offer", "sdp": "v=0"}})
    assert refused["error"]["code"] == "session_ended"


async def test_the_app_shuts_down_cleanly_with_open_peer_connections(
    sqlite_url: str, tmp_path: Path, sinks: list[Sink], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = await start_server(settings_for(sqlite_url, tmp_path))
    clients: list[Client] = []
    try:
        host_member = await add_staff(sqlite_url, "host@example.com", "host")
        room = await webinar(server, host_member, guests=2)
        host = await connect(server.url, host_member.token, room.session_id)
        clients.append(host)
        assert (await host.call("session.start", {}))["ok"] is True
        for guest in room.guests:
            clients.append(await connect(server.url, guest.token, room.session_id))
        await publish(host, sinks)
        viewers = [(await subscribe(client, sinks))[0] for client in clients[1:]]
        await wait_for(lambda: all(v.video_frames >= 5 for v in viewers), "pictures at every attendee")
        router = server.app[MEDIA].get(room.session_id)
        assert router is not None
        connections = [router._publishers[host.participant_id].pc] + [s.pc for s in router._subscribers.values()]
        assert len(connections) == 3
    finally:
        await server.stop()
        for client in clients:
            await client.close()

    assert router.closed and router.publishers == [] and router.subscribers == []
    assert [pc.connectionState for pc in connections] == ["closed"] * 3
    assert server.app[MEDIA].get(room.session_id) is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
