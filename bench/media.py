"""How many webinar viewers one server process can feed: the packet forwarder against aiortc's MediaRelay, and Janus.

    .venv/bin/python bench/media.py [--counts 10,50,100,200] [--stock-counts 5,10,20] [--seconds 20]
    .venv/bin/python bench/media.py --record [--counts 200] [--stock-counts ""]

    .venv/bin/python bench/media.py --engine embedded --engine janus --counts 50,200,400 --stock-counts ""

`--engine janus` adds, per count, a row through one Janus node (`janus`: the publisher and every
viewer on it) and one through an origin and two edges (`janus-3`: the publisher on the origin,
cascaded to both edges with VideoRoom remote publishers, viewers placed on the least-loaded edge by
`live.media.janus.engine.JanusMedia`, the app's own engine). The bench starts the `janus` processes
itself (Debian's package, generated configs, loopback); their CPU, from /proc, is the "server" CPU
of those rows. Viewers are the same lean subscribers as in the embedded rows; only signaling differs
(Janus offers, the viewer answers).

For each row the bench starts, as separate processes: the server (`live.media.router.MediaRouter`
for `forward`, or a minimal server built on aiortc's stock `MediaRelay` for `stock`), one aiortc
publisher sending a moving 640x480 picture at 30 fps (VP8), and N aiortc subscribers spread over a
few processes. Signaling is HTTP on loopback; media is real WebRTC (ICE, DTLS, SRTP) over the host
interface.

Subscribers count received *encoded* frames with the same receiver hook the server uses
(`EncodedFrameTap`): decoding 200 streams would cost the client side more CPU than the server
spends, on the same two cores. One subscriber (`--decoded`) decodes normally, to show the picture
arrives right: its resolution and whether the moving bar moves are printed.

Measured over a window of `--seconds` after every subscriber has received frames:
- server CPU: user+system time of the server process and all its threads, from /proc/<pid>/stat,
  divided by subscriber-minutes (N x window minutes);
- fps: encoded video frames received per subscriber per second (mean, and the slowest subscriber);
- loss: 1 - frames received / frames the publisher sent in the window, averaged over subscribers;
- machine busy: all CPUs over the window, from /proc/stat (clients and server share 2 cores).
`--profile` runs the server under cProfile for the forward rows and prints where its time goes.
`--record` adds, after each forward row, the same row with the session being recorded (`record`: the
recorder of `live.recordings` writes the forwarded frames to a WebM file in a temporary directory),
and prints the server CPU per delivered frame and the fps of the two side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from signal import SIGCONT, SIGSTOP
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from aiortc import RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription, VideoStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av import VideoFrame

from live.media.forwarder import EncodedFrameTap
from live.media.janus.engine import JanusMedia
from live.media.janus.model import NodeSpec
from live.media.janus.nodeconfig import NodeConfig
from live.media.router import MediaRouter, codec_preferences
from live.recordings.recorder import Recorder
from live.rooms.server_events import ServerEvent

WIDTH, HEIGHT, BAR = 640, 480, 64
# Subscribers per client process: one asyncio loop receiving, decrypting and reassembling ~50
# streams of 30 fps is about what one Python process does without falling behind.
SUBSCRIBERS_PER_PROCESS = 50
MAX_CLIENT_PROCESSES = 4
# Subscribers negotiate this many at a time, so 200 offers do not all wait on one another.
CONNECT_CONCURRENCY = 10


class MovingPicture(VideoStreamTrack):
    """A bright bar sweeping across a 640x480 picture at 30 fps; counts the frames it produced.

    `textured` puts the bar on a noisy background that pans 4 pixels a frame, so, like a camera,
    the whole picture changes every frame: the VP8 encoder works about as hard as on real video and
    fills its 500 kbit/s budget (2 RTP packets a frame). Without it the picture is a flat field that
    encodes almost for free into one packet a frame, flattering both modes.
    """

    def __init__(self, textured: bool) -> None:
        super().__init__()
        self.count = 0
        self._chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
        # Luma 60..190 so the 235 bar stays the brightest thing on any row.
        levels = bytes(60 + i * 130 // 256 for i in range(256))
        self._background = os.urandom(WIDTH * HEIGHT).translate(levels) if textured else bytes([16]) * (WIDTH * HEIGHT)
        self._bar = bytes([235]) * BAR

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        shift = (self.count * 4) % WIDTH
        luma = bytearray(self._background[shift:] + self._background[:shift])
        x = (self.count * 8) % (WIDTH - BAR)
        for y in range(HEIGHT):
            start = y * WIDTH + x
            luma[start : start + BAR] = self._bar
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(bytes(luma))
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


# ---------------------------------------------------------------------------------------- server


class StockServer:
    """The baseline: aiortc's MediaRelay, which gives each subscriber's sender decoded frames to encode."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.sources: list[MediaStreamTrack] = []
        self.pcs: list[RTCPeerConnection] = []

    async def publish(self, participant_id: str, offer: dict[str, str]) -> dict[str, str]:
        pc = RTCPeerConnection()
        self.pcs.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.sources.append(track)

        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        await pc.setLocalDescription(await pc.createAnswer())
        return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}

    async def subscribe(self, participant_id: str, offer: dict[str, str]) -> dict[str, str]:
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        for source in self.sources:
            # Unbuffered: a subscriber whose encoder falls behind skips frames rather than queueing.
            transceiver = pc.addTransceiver(self.relay.subscribe(source, buffered=False), direction="sendonly")
            transceiver.setCodecPreferences(codec_preferences(source.kind))
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        await pc.setLocalDescription(await pc.createAnswer())
        return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


class JanusServer:
    """The app's Janus engine behind the bench's HTTP signaling: Janus offers to viewers, they answer."""

    def __init__(self, nodes: list[NodeSpec]) -> None:
        async def nowhere(message: ServerEvent, to: str) -> None:
            return None

        self.media = JanusMedia(nodes, nowhere, nowhere)

    async def publish(self, participant_id: str, offer: dict[str, str]) -> dict[str, str]:
        return await self.media.publish("bench", participant_id, "bench-sid", offer)

    async def subscribe(self, participant_id: str, offer: dict[str, str] | None) -> dict[str, str]:
        return await self.media.subscribe("bench", participant_id, participant_id)

    async def answer(self, participant_id: str, answer: dict[str, str]) -> None:
        await self.media.answer("bench", participant_id, answer)

    async def close(self) -> None:
        await self.media.close()


def run_server(mode: str, port: int, profile: bool, janus_nodes: list[NodeSpec] | None = None) -> None:
    profiler = cProfile.Profile() if profile else None

    async def main() -> None:
        server: MediaRouter | StockServer | JanusServer
        forwarding = mode in ("forward", "record")
        recordings = tempfile.TemporaryDirectory(prefix="bench-recording-")
        recorder = Recorder(Path(recordings.name), "bench", "bench") if mode == "record" else None
        if janus_nodes:
            server = JanusServer(janus_nodes)
            await server.media.start()
        else:
            server = MediaRouter([], session_id="bench") if forwarding else StockServer()

        async def publish(request: web.Request) -> web.Response:
            body = await request.json()
            answer = await server.publish(body["participant_id"], body["offer"])
            if recorder is not None and isinstance(server, MediaRouter):
                recorder.follow(server)  # one more subscriber of the forwarder, writing WebM
            return web.json_response(answer)

        async def subscribe(request: web.Request) -> web.Response:
            body = await request.json()
            return web.json_response(await server.subscribe(body["participant_id"], body.get("offer")))

        async def answer(request: web.Request) -> web.Response:
            body = await request.json()
            assert isinstance(server, JanusServer)
            await server.answer(body["participant_id"], body["answer"])
            return web.json_response({})

        async def stats(request: web.Request) -> web.Response:
            result: dict[str, Any] = {}
            if isinstance(server, JanusServer):
                placement = server.media.placement("bench")
                result["viewers_per_node"] = {n: list(placement.values()).count(n) for n in set(placement.values())}
            if isinstance(server, MediaRouter):
                result["publishers"] = server.publishers
                outputs = [
                    track.output
                    for subscriber in server._subscribers.values()
                    for track in subscriber.tracks
                    if getattr(track, "output", None) is not None
                ]
                result["direct"] = {
                    "packets_sent": sum(o.packets_sent for o in outputs),
                    "frames_sent": sum(o.frames_sent for o in outputs),
                    "frames_skipped": sum(o.frames_skipped for o in outputs),
                    "retransmitted": sum(o.retransmitted for o in outputs),
                }
                for forwarder in server.forwarders("host"):
                    result[forwarder.kind] = {
                        "frames_in": forwarder.frames_in,
                        "keyframes_in": forwarder.keyframes_in,
                        "keyframe_requests_sent": forwarder.keyframe_requests_sent,
                        "subscribers": forwarder.subscriber_count,
                    }
            return web.json_response(result)

        async def profile_control(request: web.Request) -> web.Response:
            if profiler is not None:
                if request.match_info["action"] == "start":
                    profiler.enable()
                else:
                    profiler.disable()
                    out = io.StringIO()
                    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
                    return web.Response(text=out.getvalue())
            return web.Response(text="")

        app = web.Application()
        app.router.add_post("/publish", publish)
        app.router.add_post("/subscribe", subscribe)
        app.router.add_post("/answer", answer)
        app.router.add_get("/stats", stats)
        app.router.add_post("/profile/{action}", profile_control)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await asyncio.Event().wait()
        finally:
            if recorder is not None:
                recorder.stop()
            recordings.cleanup()
            await server.close()
            await runner.cleanup()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------- clients


async def signal(url: str, path: str, participant_id: str, pc: RTCPeerConnection) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/{path}", json={"participant_id": participant_id, "offer": offer}) as response:
            response.raise_for_status()
            answer = await response.json()
    await pc.setRemoteDescription(RTCSessionDescription(**answer))


async def signal_janus(url: str, participant_id: str, pc: RTCPeerConnection, before_answer: Any) -> None:
    """A Janus viewer: take the server's offer, `before_answer(pc)`, answer it."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/subscribe", json={"participant_id": participant_id}) as response:
            response.raise_for_status()
            offer = await response.json()
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        before_answer(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        async with http.post(f"{url}/answer", json={"participant_id": participant_id, "answer": answer}) as response:
            response.raise_for_status()


async def wait_until(wall_time: float) -> None:
    await asyncio.sleep(max(0.0, wall_time - time.time()))


def run_publisher(url: str, textured: bool, conn: Connection) -> None:
    async def main() -> None:
        pc = RTCPeerConnection()
        picture = MovingPicture(textured)
        pc.addTransceiver(picture, direction="sendonly")
        await signal(url, "publish", "host", pc)
        conn.send("published")
        start, end = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await wait_until(start)
        first = picture.count
        await wait_until(end)
        conn.send(picture.count - first)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await pc.close()

    asyncio.run(main())


@dataclass
class Subscriber:
    pc: RTCPeerConnection
    frames: int = 0
    decoded_sizes: set[tuple[int, int]] | None = None
    bar_positions: set[int] | None = None
    counter: LeanCounter | None = None
    # When its connection came up, and when its first whole frame arrived (time.monotonic()).
    connected_at: float | None = None
    first_frame_at: float | None = None

    def got_frame(self) -> None:
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = time.monotonic()


class LeanCounter:
    """Counts whole video frames straight off a subscriber's socket, after aiortc has connected it.

    aiortc's receive path (STUN check, SRTP, RTP parse, NACK generator, jitter buffer, depayload,
    RTCP per packet) costs a Python receiver more CPU than the forwarder spends sending, so 200 of
    them would measure the clients on these 2 cores, not the server. Once ICE and DTLS are up, this
    takes over the socket's `datagram_received` for SRTP media packets only: each one is still
    decrypted and authenticated with the connection's own SRTP session (a packet that fails is
    counted as `bad`, not as received), and a frame counts when its last packet (RTP marker bit)
    arrives and every sequence number since the previous frame's last packet arrived too. STUN
    (consent checks) and RTCP still go to aiortc. The subscriber sends no NACKs or receiver reports
    for these packets, so the server never retransmits: loss here is loss.
    """

    def __init__(self, subscriber: Subscriber) -> None:
        self.subscriber = subscriber
        self.packets = 0
        self.bad = 0
        self.incomplete = 0
        self._frame_packets = 0
        self._last_marker: int | None = None

    def install(self, pc: RTCPeerConnection) -> bool:
        """Take over the connection's sockets; False until DTLS is connected."""
        dtls = pc.getTransceivers()[0].receiver.transport
        if dtls.state != "connected":
            return False
        unprotect = dtls._rx_srtp.unprotect
        for protocol in dtls.transport._connection._protocols:
            original = protocol.datagram_received

            def datagram_received(data: bytes, addr: Any, original: Any = original) -> None:
                # RTP, not RTCP (RFC 5761: RTCP packet types 192-223 in the second byte).
                if len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                    try:
                        plain = unprotect(data)
                    except Exception:  # pylibsrtp raises its own error for a bad tag or replay
                        self.bad += 1
                        return
                    self.packet(plain)
                else:
                    original(data, addr)

            protocol.datagram_received = datagram_received  # type: ignore[method-assign]
        return True

    def packet(self, data: bytes) -> None:
        self.packets += 1
        self._frame_packets += 1
        if not data[1] & 0x80:
            return
        sequence = (data[2] << 8) | data[3]
        if self._last_marker is not None:
            if self._frame_packets == (sequence - self._last_marker) & 0xFFFF:
                self.subscriber.got_frame()
            else:
                self.incomplete += 1
        self._last_marker = sequence
        self._frame_packets = 0


def run_subscribers(url: str, ids: list[str], decoded: int, lean: bool, conn: Connection, janus: bool = False) -> None:
    async def main() -> None:
        subscribers = [Subscriber(RTCPeerConnection()) for _ in ids]
        tasks: list[asyncio.Task[None]] = []

        def count(subscriber: Subscriber) -> Any:
            def on_frame(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
                subscriber.got_frame()

            return on_frame

        async def consume(subscriber: Subscriber, track: MediaStreamTrack) -> None:
            assert subscriber.decoded_sizes is not None and subscriber.bar_positions is not None
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                assert isinstance(frame, VideoFrame)
                subscriber.got_frame()
                subscriber.decoded_sizes.add((frame.width, frame.height))
                plane = frame.planes[0]
                start = plane.line_size * (frame.height // 2)
                row = bytes(plane)[start : start + frame.width]
                subscriber.bar_positions.add(row.index(max(row)))

        async def connect(n: int, subscriber: Subscriber, gate: asyncio.Semaphore) -> None:
            if janus:
                await connect_janus(n, subscriber, gate)
                return
            transceiver: RTCRtpTransceiver = subscriber.pc.addTransceiver("video", direction="recvonly")

            @subscriber.pc.on("connectionstatechange")
            def on_state() -> None:
                if subscriber.pc.connectionState == "connected" and subscriber.connected_at is None:
                    subscriber.connected_at = time.monotonic()

            if n < decoded:
                subscriber.decoded_sizes, subscriber.bar_positions = set(), set()

                @subscriber.pc.on("track")
                def on_track(track: MediaStreamTrack) -> None:
                    tasks.append(asyncio.ensure_future(consume(subscriber, track)))

            async with gate:
                await signal(url, "subscribe", ids[n], subscriber.pc)
            if n >= decoded:
                # Before ICE connects, as on the server: the receiver then never decodes.
                EncodedFrameTap.install(transceiver.receiver, count(subscriber), lambda: None)

        async def connect_janus(n: int, subscriber: Subscriber, gate: asyncio.Semaphore) -> None:
            @subscriber.pc.on("connectionstatechange")
            def on_state() -> None:
                if subscriber.pc.connectionState == "connected" and subscriber.connected_at is None:
                    subscriber.connected_at = time.monotonic()

            if n < decoded:
                subscriber.decoded_sizes, subscriber.bar_positions = set(), set()

                @subscriber.pc.on("track")
                def on_track(track: MediaStreamTrack) -> None:
                    tasks.append(asyncio.ensure_future(consume(subscriber, track)))

            def tap(pc: RTCPeerConnection) -> None:
                # The transceiver exists once Janus's offer is set; tapped before ICE connects.
                if n >= decoded:
                    EncodedFrameTap.install(pc.getTransceivers()[0].receiver, count(subscriber), lambda: None)

            async with gate:
                await signal_janus(url, ids[n], subscriber.pc, tap)

        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        await asyncio.gather(*(connect(n, s, gate) for n, s in enumerate(subscribers)))
        deadline = time.monotonic() + 120
        # Polling is fine here: it is setup, and a per-frame event would cost in the measured path.
        while time.monotonic() < deadline:
            if lean:
                for n, s in enumerate(subscribers):
                    if n >= decoded and s.counter is None:
                        counter = LeanCounter(s)
                        if counter.install(s.pc):
                            s.counter = counter
            if all(s.frames for s in subscribers) and (
                not lean or all(s.counter for n, s in enumerate(subscribers) if n >= decoded)
            ):
                break
            await asyncio.sleep(0.2)
        conn.send(sum(1 for s in subscribers if s.frames))

        start, end = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await wait_until(start)
        first = [s.frames for s in subscribers]
        await wait_until(end)
        counts = [s.frames - f for s, f in zip(subscribers, first, strict=True)]
        samples = [
            {"sizes": sorted(s.decoded_sizes), "positions": len(s.bar_positions or ())}
            for s in subscribers
            if s.decoded_sizes is not None
        ]
        counters = [s.counter for s in subscribers if s.counter is not None]
        conn.send(
            {
                "counts": counts,
                "samples": samples,
                "bad": sum(c.bad for c in counters),
                "incomplete": sum(c.incomplete for c in counters),
                "first_picture_ms": [
                    1000 * (s.first_frame_at - s.connected_at)
                    for s in subscribers
                    if s.first_frame_at is not None and s.connected_at is not None
                ],
            }
        )
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        for task in tasks:
            task.cancel()
        for subscriber in subscribers:
            await subscriber.pc.close()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------- orchestration


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")" of the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Row:
    mode: str
    subscribers: int
    connected: int
    cpu_per_subscriber_minute: float
    cpu_ms_per_frame: float
    server_cpu_percent: float
    fps_mean: float
    fps_min: float
    loss_percent: float
    publisher_fps: float
    machine_busy_percent: float
    client_cpu_percent: float
    decoded: str
    server_stats: str
    bad_packets: int = 0
    incomplete_frames: int = 0
    stalled_fps: list[float] = field(default_factory=list)
    first_picture_ms: list[float] = field(default_factory=list)
    profile: str = ""


def measure(
    mode: str, count: int, seconds: float, decoded: int, profile: bool, textured: bool, lean: bool, stalled: int = 0
) -> Row:
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    janus = mode.startswith("janus")
    nodes = start_janus_nodes(["origin", "edge", "edge"] if mode == "janus-3" else ["origin"]) if janus else []
    specs = [NodeSpec(node.url, node.role) for node in nodes]
    server = ctx.Process(target=run_server, args=(mode, port, profile, specs), daemon=True)
    server.start()
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)

    pub_end, pub_conn = ctx.Pipe()
    publisher = ctx.Process(target=run_publisher, args=(url, textured, pub_conn), daemon=True)
    publisher.start()
    assert pub_end.recv() == "published"

    processes = min(MAX_CLIENT_PROCESSES, max(1, -(-count // SUBSCRIBERS_PER_PROCESS)))
    groups = [[f"viewer{n}" for n in range(count) if n % processes == p] for p in range(processes)]
    clients: list[tuple[Any, Connection]] = []
    for p, ids in enumerate(groups):
        end, conn = ctx.Pipe()
        process = ctx.Process(
            target=run_subscribers, args=(url, ids, decoded if p == 0 else 0, lean, conn, janus), daemon=True
        )
        process.start()
        clients.append((process, end))
    stalled_client: tuple[Any, Connection] | None = None
    if stalled:
        # A subscriber process frozen (SIGSTOP) through the window: the slowest subscriber there is.
        end, conn = ctx.Pipe()
        process = ctx.Process(
            target=run_subscribers, args=(url, [f"stalled{n}" for n in range(stalled)], 0, lean, conn), daemon=True
        )
        process.start()
        stalled_client = (process, end)
    connected = sum(end.recv() for _, end in clients)
    if stalled_client is not None:
        stalled_client[1].recv()

    # Settle: the last subscribers' first keyframes, and any backlog from the connection storm
    # drained (at N = 200 a 2 s settle still let late frames land in the window: 33.8 fps counted).
    time.sleep(2.0 + count / 50)
    start = time.time() + 0.5
    finish = start + seconds
    for end in [pub_end] + [end for _, end in clients]:
        end.send((start, finish))
    if stalled_client is not None:
        stalled_client[1].send((start, finish))
    time.sleep(max(0.0, start - time.time()))
    if stalled_client is not None:
        os.kill(stalled_client[0].pid, SIGSTOP)
    pids = [pid for pid in [publisher.pid] + [process.pid for process, _ in clients] if pid is not None]
    assert server.pid is not None
    # The server side of a Janus row is the Janus processes (the app only signals).
    server_pids = [node.process.pid for node in nodes] if janus else [server.pid]
    if profile and mode in ("forward", "record"):
        urllib_post(f"{url}/profile/start")
    cpu0, busy0, clients0 = sum(map(process_cpu_seconds, server_pids)), machine_cpu(), sum(map(process_cpu_seconds, pids))
    time.sleep(max(0.0, finish - time.time()))
    cpu1, busy1, clients1 = sum(map(process_cpu_seconds, server_pids)), machine_cpu(), sum(map(process_cpu_seconds, pids))
    stalled_counts: list[int] = []
    if stalled_client is not None:
        os.kill(stalled_client[0].pid, SIGCONT)
        stalled_counts = stalled_client[1].recv()["counts"]
    profile_text = urllib_post(f"{url}/profile/stop") if profile and mode in ("forward", "record") else ""
    server_stats = urllib_get(f"{url}/stats")

    published = pub_end.recv()
    counts: list[int] = []
    samples: list[dict[str, Any]] = []
    bad = incomplete = 0
    first_pictures: list[float] = []
    for _, end in clients:
        result = end.recv()
        counts += result["counts"]
        samples += result["samples"]
        bad += result["bad"]
        incomplete += result["incomplete"]
        first_pictures += result["first_picture_ms"]
    if stalled_client is not None:
        clients.append(stalled_client)  # to be told to exit with the others
    for end in [pub_end] + [end for _, end in clients]:
        end.send("exit")
    for process in [publisher] + [process for process, _ in clients]:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    server.kill()
    server.join()
    for node in nodes:
        node.process.kill()
        node.process.wait()
        shutil.rmtree(node.directory, ignore_errors=True)

    server_cpu = cpu1 - cpu0
    fps = [c / seconds for c in counts]
    loss = [max(0.0, 1 - c / published) for c in counts] if published else [1.0]
    decoded_text = "; ".join(
        f"{'x'.join(map(str, size))} bar at {sample['positions']} places"
        for sample in samples
        for size in sample["sizes"]
    )
    return Row(
        mode=mode,
        subscribers=count,
        connected=connected,
        cpu_per_subscriber_minute=server_cpu / (count * seconds / 60),
        cpu_ms_per_frame=1000 * server_cpu / max(1, sum(counts)),
        server_cpu_percent=100 * server_cpu / seconds,
        fps_mean=sum(fps) / len(fps),
        fps_min=min(fps),
        loss_percent=100 * sum(loss) / len(loss),
        publisher_fps=published / seconds,
        machine_busy_percent=100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        client_cpu_percent=100 * (clients1 - clients0) / seconds,
        decoded=decoded_text or "-",
        bad_packets=bad,
        incomplete_frames=incomplete,
        stalled_fps=[c / seconds for c in stalled_counts],
        first_picture_ms=sorted(first_pictures),
        server_stats=server_stats,
        profile=profile_text,
    )


@dataclass
class BenchNode:
    role: str
    url: str
    process: subprocess.Popen[bytes]
    directory: Path


def start_janus_nodes(roles: list[str]) -> list[BenchNode]:
    """Debian's `janus`, one process per role, on free loopback ports with generated configs."""
    nodes = []
    for n, role in enumerate(roles):
        api_port = free_port()
        low = 40000 + n * 1000  # 1,000 RTP ports each: 400 viewers need 400 (one bundle each)
        config = NodeConfig(f"bench-{role}-{n}", api_port=api_port, rtp_ports=(low, low + 999), debug_level=2)
        main = config.write(Path(tempfile.mkdtemp(prefix=f"bench-janus-{role}-")))
        process = subprocess.Popen(
            ["janus", "-C", str(main), "-F", str(main.parent), "-o"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(300):
            try:
                urllib_get(f"{config.url}/info")
                break
            except OSError:
                time.sleep(0.1)
        nodes.append(BenchNode(role, config.url, process, main.parent))
    return nodes


def urllib_post(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as response:
        return str(response.read().decode())


def urllib_get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,50,100,200", help="subscriber counts for the forwarder")
    parser.add_argument("--stock-counts", default="5,10,20", help="subscriber counts for stock MediaRelay")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per row")
    parser.add_argument("--decoded", type=int, default=1, help="subscribers that decode (picture check)")
    parser.add_argument("--profile", action="store_true", help="cProfile the server in forward rows")
    parser.add_argument("--flat", action="store_true", help="flat background instead of panning texture")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--record", action="store_true", help="each forward row again while recording the session")
    parser.add_argument(
        "--stalled",
        type=int,
        default=0,
        help="this many more subscribers, in a process frozen with SIGSTOP through the window (not in the N columns)",
    )
    parser.add_argument(
        "--aiortc-receivers",
        action="store_true",
        help="count frames through aiortc's full receive path (jitter buffer, NACK, RTCP) instead of LeanCounter",
    )
    parser.add_argument(
        "--engine",
        action="append",
        choices=["embedded", "janus"],
        help="embedded: the forwarder rows (default); janus: one Janus node, and an origin with two edges",
    )
    args = parser.parse_args()

    engines = args.engine or ["embedded"]
    plan = [("stock", int(n)) for n in args.stock_counts.split(",") if n]
    for n in args.counts.split(","):
        if not n:
            continue
        if "embedded" in engines:
            plan.append(("forward", int(n)))
            if args.record:
                plan.append(("record", int(n)))
        if "janus" in engines:
            plan += [("janus", int(n)), ("janus-3", int(n))]
    picture = "flat picture with a moving bar" if args.flat else "panning textured picture with a moving bar"
    print(f"{os.cpu_count()} CPUs; window {args.seconds:g} s per row; 640x480 VP8 at 30 fps, video only; {picture}")
    header = (
        f"{'mode':8} {'N':>4} {'conn':>4} {'cpu s/sub-min':>13} {'ms/frame':>8} {'server cpu':>10} {'fps mean':>8} "
        f"{'fps min':>7} {'loss %':>6} {'pub fps':>7} {'machine':>7} {'clients':>7} {'bad':>4} {'incompl':>7}  decoded sample"
    )
    print(header)
    rows = []
    for mode, count in plan:
        row = measure(
            mode,
            count,
            args.seconds,
            args.decoded,
            args.profile,
            not args.flat,
            not args.aiortc_receivers,
            args.stalled,
        )
        rows.append(row)
        print(
            f"{row.mode:8} {row.subscribers:>4} {row.connected:>4} {row.cpu_per_subscriber_minute:>13.3f} "
            f"{row.cpu_ms_per_frame:>8.3f} "
            f"{row.server_cpu_percent:>9.0f}% {row.fps_mean:>8.1f} {row.fps_min:>7.1f} {row.loss_percent:>6.1f} "
            f"{row.publisher_fps:>7.1f} {row.machine_busy_percent:>6.0f}% {row.client_cpu_percent:>6.0f}% "
            f"{row.bad_packets:>4} {row.incomplete_frames:>7}  {row.decoded}",
            flush=True,
        )
    # Compare at full frame rate: a saturated row's CPU per subscriber-minute looks cheap only because
    # it delivers few frames, so the cost that decides capacity is server CPU per delivered frame,
    # taken from rows that kept up (>= 25 fps) when there are any.
    stock = [r for r in rows if r.mode == "stock"]
    forward = [r for r in rows if r.mode == "forward"]
    if stock and forward:
        stock_ok = [r for r in stock if r.fps_mean >= 25] or stock
        forward_ok = [r for r in forward if r.fps_mean >= 25] or forward
        stock_cost = min(r.cpu_ms_per_frame for r in stock_ok)
        forward_cost = max(r.cpu_ms_per_frame for r in forward_ok)
        print(
            f"\nServer CPU per delivered frame: stock {stock_cost:.3f} ms (its cheapest row that kept up), forward "
            f"{forward_cost:.3f} ms (its dearest row that kept up): at equal server CPU the forwarder feeds "
            f"{stock_cost / forward_cost:.0f}x the subscribers. One core at 30 fps: stock "
            f"{1000 / (30 * stock_cost):.0f}, forward {1000 / (30 * forward_cost):.0f} subscribers."
        )
    for row in rows:
        if row.first_picture_ms:
            pictures = row.first_picture_ms
            print(
                f"{row.mode} N={row.subscribers}: first picture after the connection came up: median "
                f"{pictures[len(pictures) // 2]:.0f} ms, 90th percentile {pictures[len(pictures) * 9 // 10]:.0f} ms, "
                f"slowest {pictures[-1]:.0f} ms ({len(pictures)} subscribers)"
            )
    for row in rows:
        if row.stalled_fps:
            print(
                f"{row.mode} N={row.subscribers}: {len(row.stalled_fps)} stalled subscribers got "
                f"{max(row.stalled_fps):.1f} fps at most while the N others got {row.fps_mean:.1f} (slowest "
                f"{row.fps_min:.1f})"
            )
    for row in [r for r in rows if r.mode == "record"]:
        base = next((r for r in forward if r.subscribers == row.subscribers), None)
        if base is not None and base.cpu_ms_per_frame > 0:
            print(
                f"recording at N={row.subscribers}: server CPU per delivered frame {base.cpu_ms_per_frame:.3f} -> "
                f"{row.cpu_ms_per_frame:.3f} ms ({100 * (row.cpu_ms_per_frame / base.cpu_ms_per_frame - 1):+.1f} %), "
                f"fps {base.fps_mean:.1f} -> {row.fps_mean:.1f}"
            )
    for row in forward:
        print(f"server forwarder stats at N={row.subscribers}: {row.server_stats}")
    for row in rows:
        if row.mode.startswith("janus"):
            print(f"{row.mode} N={row.subscribers}: {row.server_stats} (server cpu = the Janus processes)")
    for row in rows:
        if row.profile:
            print(f"\n--- server profile, forward N={row.subscribers} (cProfile slows it; shares, not totals) ---")
            print("\n".join(row.profile.splitlines()[:40]))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rows], indent=2))


if __name__ == "__main__":
    main()
