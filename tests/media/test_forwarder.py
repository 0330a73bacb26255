"""MediaRouter with real aiortc peers on loopback: a publisher, several subscribers, no mocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from live.errors import InvalidInput
from live.media.forwarder import TrackForwarder
from live.media.router import MediaRouter
from tests.media.support import HEIGHT, WIDTH, MovingPicture, Sink, offer_of, wait_for


class Publisher:
    def __init__(self, brightness: int = 235) -> None:
        self.pc = RTCPeerConnection()
        self.video = MovingPicture(brightness)
        self.pc.addTransceiver(self.video, direction="sendonly")
        self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")

    async def publish(self, router: MediaRouter, participant_id: str) -> None:
        answer = await router.publish(participant_id, await offer_of(self.pc))
        await self.pc.setRemoteDescription(RTCSessionDescription(**answer))


class Viewer(Sink):
    """A subscriber that decodes what it receives and keeps a small signature of each picture."""

    def __init__(self) -> None:
        super().__init__(RTCPeerConnection())
        self.stream_ids: list[str] = []

    async def subscribe(self, router: MediaRouter, participant_id: str) -> None:
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        answer = await router.subscribe(participant_id, await offer_of(self.pc))
        self.stream_ids = [
            line.split()[0][len("a=msid:") :] for line in answer["sdp"].splitlines() if line.startswith("a=msid:")
        ]
        await self.pc.setRemoteDescription(RTCSessionDescription(**answer))


async def publishing(router: MediaRouter, peers: list[Publisher | Viewer], participant_id: str = "u_host") -> Publisher:
    """A host publishing its moving picture and sound to `router` (closed with `peers`)."""
    host = Publisher()
    peers.append(host)
    await host.publish(router, participant_id)
    return host


async def watching(router: MediaRouter, peers: list[Publisher | Viewer], participant_id: str) -> Viewer:
    """A viewer subscribed to everything `router` forwards (closed with `peers`)."""
    viewer = Viewer()
    peers.append(viewer)
    await viewer.subscribe(router, participant_id)
    return viewer


@pytest.fixture
async def router() -> AsyncIterator[MediaRouter]:
    router = MediaRouter([], session_id="s_test")
    yield router
    await router.close()


@pytest.fixture
async def peers() -> AsyncIterator[list[Publisher | Viewer]]:
    made: list[Publisher | Viewer] = []
    yield made
    for peer in made:
        if isinstance(peer, Viewer):
            await peer.close()
        else:
            await peer.pc.close()


async def test_three_subscribers_each_decode_the_moving_640x480_picture_and_audio(
    router: MediaRouter, peers: list[Publisher | Viewer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Which VP8 packers run on the server (the publisher's side encodes, it does not pack packets).
    packers: set[int] = set()
    pack = Vp8Encoder.pack

    def counting_pack(self: Vp8Encoder, packet: av.Packet) -> tuple[list[bytes], int]:
        packers.add(id(self))
        return pack(self, packet)

    monkeypatch.setattr(Vp8Encoder, "pack", counting_pack)
    await publishing(router, peers)
    viewers = [Viewer() for _ in range(3)]
    peers.extend(viewers)
    for n, viewer in enumerate(viewers):
        await viewer.subscribe(router, f"c_{n}")

    def has_moving_picture_and_sound(viewer: Viewer) -> bool:
        return viewer.video_frames >= 15 and len(set(viewer.bar_positions)) >= 3 and viewer.audio_frames >= 10

    await wait_for(
        lambda: all(has_moving_picture_and_sound(v) for v in viewers),
        "15 moving video frames and 10 audio frames at every viewer",
    )
    for viewer in viewers:
        assert set(viewer.sizes) == {(WIDTH, HEIGHT)}
        assert viewer.stream_ids == ["u_host", "u_host"]
    video = next(f for f in router.forwarders("u_host") if f.kind == "video")
    assert video.subscriber_count == 3
    assert router.publishers == ["u_host"]
    # Each frame was packed into RTP payloads once, by the forwarder, for all three subscribers.
    assert len(packers) == 1


async def test_a_late_subscriber_gets_a_picture_from_a_requested_keyframe(
    router: MediaRouter, peers: list[Publisher | Viewer]
) -> None:
    await publishing(router, peers)
    first = await watching(router, peers, "c_first")
    await wait_for(lambda: first.video_frames >= 10, "the first viewer's pictures")
    # aiortc's VP8 encoder only makes a keyframe every 3000 frames unless asked, so the late
    # viewer sees a picture only if its arrival turned into a keyframe request to the publisher.
    await asyncio.sleep(1.0)
    late = await watching(router, peers, "c_late")
    await wait_for(lambda: late.video_frames >= 5, "a picture at the late viewer")
    assert set(late.sizes) == {(WIDTH, HEIGHT)}
    video = next(f for f in router.forwarders("u_host") if f.kind == "video")
    assert video.keyframe_requests_sent >= 2


async def test_a_subscriber_leaving_does_not_disturb_the_others(
    router: MediaRouter, peers: list[Publisher | Viewer]
) -> None:
    await publishing(router, peers)
    staying, leaving = Viewer(), Viewer()
    peers.extend([staying, leaving])
    await staying.subscribe(router, "c_staying")
    await leaving.subscribe(router, "c_leaving")
    await wait_for(lambda: staying.video_frames >= 10 and leaving.video_frames >= 10, "both viewers' pictures")

    await leaving.close()
    await router.remove("c_leaving")
    before = staying.video_frames
    await wait_for(lambda: staying.video_frames >= before + 30, "30 more pictures at the remaining viewer")
    video = next(f for f in router.forwarders("u_host") if f.kind == "video")
    assert video.subscriber_count == 1


async def test_a_publisher_leaving_ends_its_tracks_at_every_subscriber(
    peers: list[Publisher | Viewer],
) -> None:
    changed: list[str] = []

    async def on_tracks_changed(participant_id: str) -> None:
        changed.append(participant_id)

    router = MediaRouter([], on_tracks_changed, session_id="s_test")
    try:
        host = Publisher()
        peers.append(host)
        await host.publish(router, "u_host")
        viewer = Viewer()
        peers.append(viewer)
        await viewer.subscribe(router, "c_viewer")
        await wait_for(lambda: viewer.video_frames >= 5, "the viewer's pictures")
        await wait_for(lambda: changed == ["u_host"], "media available after the publisher connected")

        await router.remove("u_host")
        assert router.publishers == []
        assert router.tracks() == []
        await wait_for(lambda: viewer.ended == {"video", "audio"}, "the viewer's tracks to end")
        await wait_for(lambda: changed == ["u_host", "u_host"], "media changed after the publisher left")
    finally:
        await router.close()


async def test_a_republish_reaches_existing_subscribers_without_resubscribing(
    router: MediaRouter, peers: list[Publisher | Viewer]
) -> None:
    first = Publisher(brightness=235)
    peers.append(first)
    await first.publish(router, "u_host")
    viewer = await watching(router, peers, "c_viewer")
    await wait_for(lambda: viewer.video_frames >= 10, "pictures from the first publish")
    assert max(viewer.brightness) > 200

    second = Publisher(brightness=120)
    peers.append(second)
    await second.publish(router, "u_host")
    await first.pc.close()
    await wait_for(lambda: any(90 < b < 150 for b in viewer.brightness[-10:]), "pictures from the second publish")
    assert set(viewer.sizes) == {(WIDTH, HEIGHT)}
    assert router.publishers == ["u_host"]
    assert len(router.tracks()) == 2


async def test_an_offer_of_the_wrong_type_is_refused(router: MediaRouter) -> None:
    with pytest.raises(InvalidInput, match="'answer'"):
        await router.publish("u_host", {"type": "answer", "sdp": "v=0\r\n"})
    with pytest.raises(InvalidInput, match="no SDP"):
        await router.subscribe("c_viewer", {"type": "offer"})


async def test_a_subscriber_offering_more_m_lines_than_tracks_gets_them_inactive(
    router: MediaRouter, peers: list[Publisher | Viewer]
) -> None:
    await publishing(router, peers)
    viewer = Viewer()
    peers.append(viewer)
    viewer.pc.addTransceiver("video", direction="recvonly")
    await viewer.subscribe(router, "c_viewer")
    await wait_for(lambda: viewer.video_frames >= 5, "the viewer's pictures")
    directions = [line for line in viewer.pc.remoteDescription.sdp.splitlines() if line in ("a=sendonly", "a=inactive")]
    assert directions == ["a=sendonly", "a=inactive", "a=sendonly"]


def vp8_frame(timestamp: int, keyframe: bool) -> JitterFrame:
    # Only the first byte matters to the forwarder: bit 0 of the VP8 frame tag is 0 on a keyframe.
    return JitterFrame(data=bytes([0x10 if keyframe else 0x11]) + bytes(99), timestamp=timestamp)


async def test_a_subscriber_that_falls_behind_skips_to_the_next_keyframe_without_holding_up_others() -> None:
    forwarder = TrackForwarder("video", "u_host-video-0", "u_host", "s_test/u_host/video0")
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
    reading, stalled = forwarder.subscribe(), forwarder.subscribe()
    forwarder._forward(vp8, vp8_frame(0, keyframe=True))
    first_reads = [asyncio.ensure_future(track.recv()) for track in (reading, stalled)]
    await asyncio.sleep(0)
    forwarder._forward(vp8, vp8_frame(3000, keyframe=True))
    await asyncio.gather(*first_reads)

    received = 0
    for n in range(2, 100):
        forwarder._forward(vp8, vp8_frame(3000 * n, keyframe=False))
        await reading.recv()
        received += 1

    assert received == 98
    assert stalled.dropped > 0
    forwarder._forward(vp8, vp8_frame(300_000, keyframe=False))
    forwarder._forward(vp8, vp8_frame(303_000, keyframe=True))
    packet = await asyncio.wait_for(stalled.recv(), 5)
    assert packet.pts == 303_000
    forwarder.close()
    with pytest.raises(MediaStreamError):
        await reading.recv()


def drop_incoming_rtp(pc: RTCPeerConnection, every: int) -> list[int]:
    """Drop every `every`-th RTP packet arriving at `pc`'s sockets before aiortc sees it; returns [dropped]."""
    dtls = pc.getTransceivers()[0].receiver.transport
    seen, dropped = [0], [0]
    for protocol in dtls.transport._connection._protocols:
        original = protocol.datagram_received

        def datagram_received(data: bytes, addr: tuple[str, int], original: Any = original) -> None:
            # SRTP media, not RTCP (RFC 5761: RTCP packet types 192-223 in the second byte).
            if len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                seen[0] += 1
                if seen[0] % every == 0:
                    dropped[0] += 1
                    return
            original(data, addr)

        protocol.datagram_received = datagram_received
    return dropped


async def test_lost_packets_are_retransmitted_and_sender_reports_count_what_was_sent(
    router: MediaRouter, peers: list[Publisher | Viewer]
) -> None:
    await publishing(router, peers)
    viewer = await watching(router, peers, "c_lossy")
    await wait_for(lambda: viewer.video_frames >= 5, "the first pictures")

    dropped = drop_incoming_rtp(viewer.pc, every=25)
    before = viewer.video_frames
    await wait_for(
        lambda: viewer.video_frames >= before + 90 and dropped[0] >= 20, "90 more pictures through 20 dropped packets"
    )
    # The viewer's NACKs were answered from the forwarder's own send history.
    video_track = next(track for track in router._subscribers["c_lossy"].tracks if track.kind == "video")
    output = video_track.output
    assert output is not None
    assert output.retransmitted > 0
    recent = viewer.bar_positions[before:]
    assert len(set(recent)) >= 20, "the picture keeps moving through the losses"
    assert set(viewer.sizes) == {(WIDTH, HEIGHT)}

    # The server's RTCP sender reports carry the packet and byte counts the forwarder kept.
    async def reported_packets() -> int:
        report = await viewer.pc.getTransceivers()[0].receiver.getStats()
        return max((s.packetsSent for s in report.values() if s.type == "remote-outbound-rtp"), default=0)

    deadline = asyncio.get_running_loop().time() + 10
    # Polled: aiortc's stats have no event to wait on, and its reports come every 0.5-1.5 s.
    while (reported := await reported_packets()) == 0 and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    assert 0 < reported <= output.packets_sent
