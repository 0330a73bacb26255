"""Recording tests' tools: a publisher that loses packets on purpose, and ffprobe/ffmpeg as a user runs them."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from tests.media.support import TIMEOUT, MovingPicture, offer_of
from tests.rooms.support import Client

FFPROBE = shutil.which("ffprobe") or "/usr/bin/ffprobe"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def lose_packets(pc: RTCPeerConnection, share: float, seed: int = 13) -> list[int]:
    """From now on the peer's outgoing RTP loses `share` of its packets (seeded: the same ones each run).

    Wraps the DTLS transport's RTP send of the client peer only: the server sees real loss on the
    wire and must repair it with NACKs and keyframe requests, as with a bad network. Returns a
    one-item list counting the packets dropped.
    """
    rng = random.Random(seed)
    dropped = [0]
    transports = {t.sender.transport for t in pc.getTransceivers() if t.sender.transport is not None}
    for transport in transports:
        send: Callable[[bytes], Awaitable[None]] = transport._send_rtp

        async def lossy(data: bytes, send: Callable[[bytes], Awaitable[None]] = send) -> None:
            if rng.random() < share:
                dropped[0] += 1
                return
            await send(data)

        transport._send_rtp = lossy  # type: ignore[method-assign]
    return dropped


@dataclass(frozen=True)
class Probe:
    streams: list[dict[str, Any]]
    duration: float
    warnings: str

    def codecs(self) -> list[str]:
        return sorted(s["codec_name"] for s in self.streams)


async def run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def ffprobe(path: Path) -> Probe:
    code, out, err = await run(
        FFPROBE, "-v", "warning", "-print_format", "json", "-show_streams", "-show_format", str(path)
    )
    assert code == 0, f"ffprobe could not read {path}: {err}"
    data = json.loads(out)
    return Probe(data["streams"], float(data["format"]["duration"]), err)


async def decode_errors(path: Path) -> tuple[str, int]:
    """Decodes every frame of every stream as a player would; returns ffmpeg's complaints and the video frames decoded.

    A recording has a variable frame rate (each frame at the time it was sent), as WebM allows:
    ffmpeg decodes it with `-fps_mode passthrough`, as a player does. Without it ffmpeg's null output
    puts frames on a constant-rate clock guessed from the first ones and reports two frames in one of
    its ticks as "non monotonically increasing dts", a fault of that clock, not of the file. The file's
    own timestamps are checked too: every stream's packets strictly increasing."""
    code, _, err = await run(
        FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0", "-fps_mode", "passthrough", "-f", "null", "-"
    )
    assert code == 0, f"ffmpeg could not decode {path}: {err}"
    _, packets, _ = await run(
        FFPROBE, "-v", "error", "-show_entries", "packet=stream_index,pts", "-of", "csv=p=0", str(path)
    )
    last: dict[str, int] = {}
    for line in packets.split():
        stream, pts = line.split(",")[:2]
        if pts.isdigit():
            if stream in last and int(pts) <= last[stream]:
                err += f"stream {stream}: packet at {pts} after {last[stream]}\n"
            last[stream] = int(pts)
    _, out, _ = await run(
        FFPROBE, "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
        "stream=nb_read_frames", "-of", "csv=p=0", str(path),
    )
    return err, int(out.strip() or 0)


async def publish(client: Client, peers: list[RTCPeerConnection], loss: float = 0.0) -> list[int]:
    """Publishes a moving 640x480 picture and a tone, as the host's browser does; returns the drop counter."""
    pc = RTCPeerConnection()
    peers.append(pc)
    pc.addTransceiver(MovingPicture(), direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    ack = await client.call("media.publish", {"description": await offer_of(pc)}, wait=TIMEOUT)
    assert ack["ok"], ack
    await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    return lose_packets(pc, loss) if loss else [0]


async def wait_for_async(
    read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], what: str, within: float = TIMEOUT
) -> Any:
    """Reads until `done(value)`; the value, or a failure naming what never happened."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await read()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.1)
