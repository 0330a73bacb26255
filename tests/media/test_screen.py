"""Screen sharing in a webinar through the running server: a second forwarded video track, and its recording."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from live.media.events import AnswerAck
from tests.conftest import LiveServer, StaffMember
from tests.media.support import TIMEOUT, MovingPicture, Sink, offer_of, wait_for
from tests.recordings.support import ffprobe
from tests.rooms.support import Client, connect, make_room

CAMERA, SCREEN = 235, 150  # the brightness of each picture's bar, to tell them apart at the far end


def mids(pc: RTCPeerConnection) -> list[str | None]:
    return [t.mid for t in pc.getTransceivers()]


async def share(client: Client, sinks: list[Sink], *, screen: bool) -> dict[str, object]:
    """Publishes camera, microphone and (when `screen`) a shared screen as the third m-line."""
    pc = RTCPeerConnection()
    sinks.append(Sink(pc))
    pc.addTransceiver(MovingPicture(brightness=CAMERA), direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    if screen:
        pc.addTransceiver(MovingPicture(brightness=SCREEN, width=320, height=240), direction="sendonly")
    offer = await offer_of(pc)
    body: dict[str, object] = {"description": offer}
    if screen:
        body["screen_mid"] = mids(pc)[2]
    ack = await client.call("media.publish", body, wait=TIMEOUT)
    AnswerAck.model_validate(ack)
    await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    return ack


async def watch(client: Client, sinks: list[Sink], videos: int) -> tuple[Sink, list[str]]:
    pc = RTCPeerConnection()
    sink = Sink(pc)
    sinks.append(sink)
    for _ in range(videos):
        pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    ack = await client.call("media.subscribe", {"description": await offer_of(pc)}, wait=TIMEOUT)
    AnswerAck.model_validate(ack)
    await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    streams = [line.split()[0][len("a=msid:") :] for line in ack["description"]["sdp"].splitlines() if line.startswith("a=msid:")]
    return sink, streams


async def test_a_host_shares_a_screen_as_a_second_picture_attendees_tell_apart_and_the_recording_keeps(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], sinks: list[Sink]
) -> None:
    host = sqlite_staff["host"]
    room = await make_room(sqlite_server.settings.database_url, sqlite_server.settings.secret_key, host.id, guests=2)
    host_client = await connect(sqlite_server.url, host.token, room.session_id)
    guest = await connect(sqlite_server.url, room.guests[0].token, room.session_id)
    late = None
    try:
        bad = await host_client.call("media.publish", {"description": {"type": "offer", "sdp": "v=0"}, "screen_mid": ""})
        assert bad["ok"] is False and bad["error"]["code"] == "invalid"
        pc = RTCPeerConnection()
        sinks.append(Sink(pc))
        pc.addTransceiver(MovingPicture(), direction="sendonly")
        wrong = await host_client.call("media.publish", {"description": await offer_of(pc), "screen_mid": "7"})
        assert wrong["ok"] is False and "screen_mid '7'" in wrong["error"]["message"]

        await share(host_client, sinks, screen=True)
        # The audience receives the hosts' tracks once the session is live.
        assert (await host_client.call("session.start", {}))["ok"] is True
        recording = await host_client.call("recording.start", {})
        assert recording["ok"]
        sink, streams = await watch(guest, sinks, videos=2)
        host_id = host_client.participant_id
        assert streams == [host_id, f"{host_id}:screen", host_id]  # the offer's m-lines: video, video, audio
        await wait_for(
            lambda: {CAMERA, SCREEN} <= set(sink.brightness) and (320, 240) in sink.sizes,
            "both the camera and the screen at the attendee",
        )
        late = await connect(sqlite_server.url, room.guests[1].token, room.session_id)
        assert late.state["screen"] == host_id

        await asyncio.sleep(2.0)
        stopped = await host_client.call("recording.stop", {})
        assert stopped["ok"]
        # Stopping the share is a republish without the screen: it is gone for newcomers.
        await share(host_client, sinks, screen=False)
        await late.close()
        late = await connect(sqlite_server.url, room.guests[1].token, room.session_id)
        assert late.state["screen"] is None
    finally:
        for client in (host_client, guest, late):
            if client is not None:
                await client.close()

    directory = Path(sqlite_server.settings.recordings_path) / room.session_id
    screen_probe = await ffprobe(directory / f"{recording['id']}.screen.webm")
    assert screen_probe.codecs() == ["vp8"]
    assert (screen_probe.streams[0]["width"], screen_probe.streams[0]["height"]) == (320, 240)
    camera_probe = await ffprobe(directory / f"{recording['id']}.webm")
    assert camera_probe.codecs() == ["opus", "vp8"]
    assert camera_probe.streams[0]["width"] == 640 or camera_probe.streams[1]["width"] == 640
