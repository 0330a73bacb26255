"""Real aiortc peers for media tests: a moving test picture, a sink that decodes what it receives, waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiortc import RTCPeerConnection, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

WIDTH, HEIGHT = 640, 480
BAR = 64
# Generous: the machine has two cores shared by encoders, decoders, the server and other test runs.
TIMEOUT = 30.0


class MovingPicture(VideoStreamTrack):
    """A bright vertical bar sweeping across a dark picture, 30 frames a second (built from raw bytes)."""

    def __init__(self, brightness: int = 235, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.brightness = brightness
        self.width, self.height = width, height
        self.count = 0
        self._chroma = bytes([128]) * (width // 2 * height // 2)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        bar = min(BAR, self.width // 4)
        x = (self.count * 8) % (self.width - bar)
        row = bytes([16]) * x + bytes([self.brightness]) * bar + bytes([16]) * (self.width - bar - x)
        self.count += 1
        frame = VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(row * self.height)
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = pts
        frame.time_base = time_base
        return frame


def middle_row(frame: VideoFrame) -> bytes:
    """The luma of the picture's middle row: enough to see where the bar is and how bright."""
    plane = frame.planes[0]
    start = plane.line_size * (frame.height // 2)
    return bytes(plane)[start : start + frame.width]


async def wait_for(condition: Callable[[], bool], what: str, within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


async def offer_of(pc: RTCPeerConnection) -> dict[str, str]:
    """A complete offer: aiortc gathers every candidate before `setLocalDescription` returns."""
    await pc.setLocalDescription(await pc.createOffer())
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


async def answer_of(pc: RTCPeerConnection) -> dict[str, str]:
    await pc.setLocalDescription(await pc.createAnswer())
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


class Sink:
    """Decodes every track a peer connection receives and keeps a small signature of each picture."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.pc = pc
        self.sizes: list[tuple[int, int]] = []
        self.bar_positions: list[int] = []
        self.brightness: list[int] = []
        self.audio_frames = 0
        # Picture sizes per received track, by the receiving transceiver's mid (which m-line carried it).
        self.sizes_by_mid: dict[str, set[tuple[int, int]]] = {}
        self.ended: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    @property
    def video_frames(self) -> int:
        return len(self.sizes)

    def moving_pictures(self, frames: int = 15) -> bool:
        return self.video_frames >= frames and len(set(self.bar_positions)) >= 3

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                self.ended.add(track.kind)
                return
            if isinstance(frame, VideoFrame):
                self.sizes.append((frame.width, frame.height))
                self.sizes_by_mid.setdefault(self._mid_of(track), set()).add((frame.width, frame.height))
                row = middle_row(frame)
                brightest = max(row)
                self.bar_positions.append(row.index(brightest))
                self.brightness.append(brightest)
            else:
                self.audio_frames += 1

    def _mid_of(self, track: MediaStreamTrack) -> str:
        return next((str(t.mid) for t in self.pc.getTransceivers() if t.receiver.track is track), "?")

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
