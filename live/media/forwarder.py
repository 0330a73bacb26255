"""Forwarding one published track's encoded frames to many subscribers, with shared keyframe requests.

Why not aiortc's `MediaRelay`: it hands every subscriber decoded frames, so every subscriber's
`RTCRtpSender` runs its own encoder (~7 ms of CPU per 640x480 frame per subscriber). Here nothing is
decoded or encoded on the server: the publisher's frames are taken out of the receiver still
encoded, wrapped once in an `av.Packet`, and that same packet is handed to every subscriber's sender.
`RTCRtpSender` accepts packets from `track.recv()` and only calls the codec's `pack()` on them
(payload descriptor + split into RTP payloads). Even that is done once per frame here, not once per
subscriber: the forwarder packs each frame with one packer of its own (`SharedFrame`), and each
subscriber's sender sends those same RTP payloads straight from the forwarder's call
(`live.media.direct.DirectSender`, which replaces the sender's per-subscriber task). So a subscriber
costs an RTP header, SRTP and a `sendto`, nothing more. (Every subscriber then sees the same VP8 picture ids, which only need to
increase within one stream; a subscriber that skips frames sees a gap, then a keyframe.)

How the encoded frames are taken out (`EncodedFrameTap`): `RTCRtpReceiver._handle_rtp_packet`
depayloads each RTP packet, reassembles a whole frame in its jitter buffer (which also drives NACKs
and loss PLIs) and then does `self.__decoder_queue.put((codec, frame))` for a decoder thread. We
replace that queue object, before `receive()` starts the thread, by a tap whose `put()` hands the
frame to us on the event loop and whose `get()` just parks the (now idle) decoder thread until the
receiver stops. This keeps all of aiortc's receive path (SRTP, RTX unwrapping, NACK, jitter buffer,
REMB, RTCP reports) and replaces only the decoder; the alternative, our own depacketizer fed from a
wrapped `_handle_rtp_packet`, would duplicate the jitter buffer for nothing. The price is one
name-mangled attribute of the receiver (its decoder queue), replaced through
`live.media.aiortc_private`, which checks it on import and at install time so an aiortc upgrade that
renames it fails loudly rather than silently decoding again.

Keyframes: a decoder can only start from a keyframe, and with packets passed through the sender's
own keyframe handling (a PLI/FIR from the subscriber sets a "force keyframe" flag for its encoder)
has nothing to act on. So each subscriber's sender has its `_send_keyframe` hook pointed at
`ForwardedTrack.request_keyframe`, and the `TrackForwarder` turns requests from all its subscribers
into PLIs of its own to the publisher, at most one per `KEYFRAME_REQUEST_INTERVAL` (requests in
between are coalesced into one deferred PLI, dropped if a keyframe arrives first). A new subscriber
asks for one as soon as its sender starts, and drops frames until a keyframe arrives.

Back-pressure: the publisher's receive path never waits on a subscriber. A direct sender skips a
subscriber whose socket does not drain (see `live.media.direct`); a track read through `recv()`
instead has its own bounded queue: a video reader that falls `VIDEO_QUEUE_FRAMES` behind is emptied
and skips to the next keyframe (asking for one); audio drops its oldest frames.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import av
from aiortc import RTCRtpReceiver
from aiortc.clock import current_ntp_time
from aiortc.codecs import get_encoder
from aiortc.codecs.base import Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame
from av.stream import Stream

from live.media import aiortc_private

logger = logging.getLogger(__name__)

# At most one PLI to a publisher per half second: fast enough that a new subscriber sees a picture
# well within a second, slow enough that many lossy subscribers cannot turn the stream into a
# keyframe storm (a 640x480 VP8 keyframe is ~10x a delta frame).
KEYFRAME_REQUEST_INTERVAL = 0.5
# One second of video at 30 fps: a subscriber this far behind gets no benefit from the backlog
# (it would only add latency), so it skips to the next keyframe instead.
VIDEO_QUEUE_FRAMES = 30
# Half a second of 20 ms Opus frames; beyond that old audio is dropped, oldest first.
AUDIO_QUEUE_FRAMES = 25
# RTP timestamp step used to keep a forwarder's output timeline increasing when its source is
# replaced (a republish): one 30 fps frame at 90 kHz, one 20 ms Opus frame at 48 kHz.
_TIMELINE_STEP = {"video": 3000, "audio": 960}

FrameCallback = Callable[[RTCRtpCodecParameters, JitterFrame], None]


class FrameOutput(Protocol):
    """Where a `ForwardedTrack` pushes its frames: a subscriber's sender (`live.media.direct`) or a recorder."""

    def send(self, frame: SharedFrame) -> bool:
        """Take one frame now, on the publisher's receive path; False if it was skipped."""
        ...

    def end(self) -> None:
        """The track ended: no more frames will come."""
        ...


class EncodedFrameTap:
    """Stands in for an `RTCRtpReceiver`'s decoder queue and hands its encoded frames to a callback.

    `put()` is called by the receiver on the event loop, with `(codec, JitterFrame)` for each
    reassembled frame and with `None` when the receiver stops (stop, RTCP BYE or disconnect).
    `get()` is called by the receiver's decoder thread, which we leave nothing to do: it waits
    for the stop and then ends the receiver's own (unused) remote track, as it would normally.
    """

    def __init__(self, on_frame: FrameCallback, on_end: Callable[[], None]) -> None:
        self._on_frame = on_frame
        self._on_end = on_end
        self._ended = threading.Event()

    @classmethod
    def install(cls, receiver: RTCRtpReceiver, on_frame: FrameCallback, on_end: Callable[[], None]) -> EncodedFrameTap:
        """Replace `receiver`'s decoder queue; must run before `receive()` (i.e. before ICE connects)."""
        tap = cls(on_frame, on_end)
        aiortc_private.replace_decoder_queue(receiver, tap)
        return tap

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            if not self._ended.is_set():
                self._ended.set()
                self._on_end()
            return
        if not self._ended.is_set():
            codec, frame = item
            self._on_frame(codec, frame)

    def get(self) -> None:
        self._ended.wait()
        return None


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own. Audio frames always can."""
    name = codec_name.lower()
    if name == "vp8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
        return len(data) > 0 and not data[0] & 0x01
    if name == "h264":
        # Annex B stream as reassembled by aiortc: an IDR slice (5) or an SPS (7) starts a picture
        # that needs no earlier frame.
        position = data.find(b"\x00\x00\x01")
        while position != -1 and position + 3 < len(data):
            if data[position + 3] & 0x1F in (5, 7):
                return True
            position = data.find(b"\x00\x00\x01", position + 3)
        return False
    return True


class SharedFrame:
    """One encoded frame as every subscriber gets it: the packet and its RTP payloads, made once."""

    __slots__ = ("encoded", "keyframe", "ntp_time", "packet")

    def __init__(self, packet: av.Packet[Stream], packer: Encoder, keyframe: bool) -> None:
        self.packet = packet
        self.keyframe = keyframe
        # Read once per frame for every subscriber's abs-send-time extension and sender report.
        self.ntp_time = current_ntp_time()
        payloads, timestamp = packer.pack(packet)
        # No audio level: the server never decodes the sound (aiortc measures it on raw frames only).
        self.encoded = RTCEncodedFrame(payloads, timestamp, None)  # type: ignore[arg-type]


class ForwardedTrack(MediaStreamTrack):
    """One subscriber's view of a published track: encoded frames, never decoded pictures.

    A subscriber's `RTCRtpSender` gets its frames pushed through a `DirectSender` (`_attach`, when
    the sender starts); any other consumer reads the same frames as `av.Packet`s with `recv()`.

    It joins its forwarder when its sender starts (or on the first `recv()`), which asks the
    publisher for a keyframe; until one arrives, video frames are skipped because the subscriber's
    decoder could not use them.
    """

    def __init__(self, forwarder: TrackForwarder) -> None:
        super().__init__()
        self.kind = forwarder.kind
        aiortc_private.set_track_id(self, forwarder.track_id)
        self._forwarder = forwarder
        self._queue: deque[SharedFrame] = deque()
        self._limit = VIDEO_QUEUE_FRAMES if forwarder.kind == "video" else AUDIO_QUEUE_FRAMES
        self._waiter: asyncio.Future[None] | None = None
        self._joined = False
        self._closed = False
        self._need_keyframe = forwarder.kind == "video"
        self._output: FrameOutput | None = None
        self.delivered = 0
        self.dropped = 0

    @property
    def forwarder(self) -> TrackForwarder:
        return self._forwarder

    @property
    def output(self) -> FrameOutput | None:
        """The subscriber's sender while it sends directly (see `live.media.direct`)."""
        return self._output

    async def recv(self) -> av.Packet[Stream]:
        return (await self._next()).packet

    async def _next(self) -> SharedFrame:
        if not self._joined:
            self._joined = True
            self._forwarder._join(self)
        while not self._queue or self._closed:
            if self._closed or self.readyState != "live":
                # The published track is gone: its backlog is of no use to anyone.
                self._queue.clear()
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self.delivered += 1
        return self._queue.popleft()

    def request_keyframe(self) -> None:
        """The subscriber reported picture loss (PLI/FIR): ask the shared source for a keyframe."""
        self._forwarder.request_keyframe()

    def stop(self) -> None:
        super().stop()
        self._forwarder._leave(self)
        self._close()

    def _attach(self, output: FrameOutput) -> None:
        """From now on frames go straight to `output` (see `live.media.direct`), not to the queue."""
        self._output = output
        self._queue.clear()
        if self._closed:
            output.end()
        elif not self._joined:
            self._joined = True
            self._forwarder._join(self)

    def _detach(self, output: FrameOutput) -> None:
        if self._output is output:
            self._output = None

    def _push(self, frame: SharedFrame) -> None:
        keyframe = frame.keyframe
        if self._need_keyframe:
            if not keyframe:
                return
            self._need_keyframe = False
        output = self._output
        if output is not None:
            try:
                sent = output.send(frame)
            except Exception:
                # Runs on the publisher's receive path: one subscriber's failure must not reach it.
                logger.exception("%r: sending to a subscriber failed; it gets no more frames", self._forwarder)
                self._output = None
                output.end()
                return
            if sent:
                self.delivered += 1
            else:
                self.dropped += 1
                if self.kind == "video" and not keyframe:
                    # It restarts at a keyframe once it can take frames again: ask for one.
                    self._forwarder.request_keyframe()
            return
        if len(self._queue) >= self._limit:
            if self.kind == "video":
                # Behind by a second: drop the backlog and restart from the next keyframe.
                self.dropped += len(self._queue)
                self._queue.clear()
                if not keyframe:
                    self.dropped += 1
                    self._need_keyframe = True
                    self._forwarder.request_keyframe()
                    return
            else:
                self.dropped += 1
                self._queue.popleft()
        self._queue.append(frame)
        self._wake()

    def _restart(self) -> None:
        """The source changed: frames from the new one need a keyframe first."""
        if self.kind == "video":
            self._need_keyframe = True

    def _close(self) -> None:
        self._closed = True
        self._wake()
        if self._output is not None:
            self._output.end()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class TrackForwarder:
    """One published track: takes encoded frames from the publisher's receiver, fans them out.

    It outlives a republish: `attach()` switches it to the new receiver, its subscribers skip to
    the new source's first keyframe and their RTP timeline keeps increasing.
    """

    def __init__(self, kind: str, track_id: str, publisher_id: str, label: str, *, screen: bool = False) -> None:
        if kind not in _TIMELINE_STEP:
            raise ValueError(f"Track kind {kind!r} is not 'audio' or 'video'")
        self.kind = kind
        # A shared screen rather than a camera (the publisher's `screen_mid`): pages show it large.
        self.screen = screen
        self.track_id = track_id
        self.publisher_id = publisher_id
        self._label = label
        self._tracks: set[ForwardedTrack] = set()
        self._receiver: RTCRtpReceiver | None = None
        self._tap: EncodedFrameTap | None = None
        self._media_ssrc: int | None = None
        self._closed = False
        # Output timeline: pts = source timestamp + offset, rebased when the source changes.
        self._offset = 0
        self._last_pts: int | None = None
        self._rebase = False
        self._time_base: fractions.Fraction | None = None
        # Packs each frame into RTP payloads once for every subscriber (made on the first frame).
        self._packer: Encoder | None = None
        self._packer_codec = ""
        # Keyframe requests.
        self._last_request = -KEYFRAME_REQUEST_INTERVAL
        self._pending_request: asyncio.TimerHandle | None = None
        self._pli_tasks: set[asyncio.Task[None]] = set()
        self.frames_in = 0
        self.keyframes_in = 0
        self.keyframe_requests_sent = 0

    def __repr__(self) -> str:
        return f"TrackForwarder({self._label} {self.kind})"

    @property
    def subscriber_count(self) -> int:
        return len(self._tracks)

    @property
    def closed(self) -> bool:
        return self._closed

    def attach(self, receiver: RTCRtpReceiver, media_ssrc: int | None = None) -> None:
        """Take frames from `receiver` from now on (call before its connection starts receiving).

        `media_ssrc` is the publisher's SSRC for this track as announced in its SDP, used to address
        keyframe requests; without it, the most recently seen source of the receiver is used.
        """
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        tap: EncodedFrameTap | None = None

        def on_frame(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
            if tap is self._tap:
                self._forward(codec, frame)

        def on_end() -> None:
            if tap is self._tap:
                logger.info("%s: source ended", self._label)
                self._receiver = None
                self._tap = None

        tap = EncodedFrameTap.install(receiver, on_frame, on_end)
        replacing = self._tap is not None or self._last_pts is not None
        self._receiver, self._tap, self._media_ssrc = receiver, tap, media_ssrc
        if replacing:
            self._rebase = True
            for track in self._tracks:
                track._restart()
            if self._tracks:
                self.request_keyframe()

    def subscribe(self) -> ForwardedTrack:
        """A new track for one subscriber's sender; it starts at the next keyframe."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        return ForwardedTrack(self)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per `KEYFRAME_REQUEST_INTERVAL`."""
        if self.kind != "video" or self._closed or self._pending_request is not None:
            return
        wait = self._last_request + KEYFRAME_REQUEST_INTERVAL - time.monotonic()
        if wait <= 0:
            self._send_pli()
        else:
            self._pending_request = asyncio.get_running_loop().call_later(wait, self._send_pli)

    def close(self) -> None:
        """End every subscriber's track; the forwarder takes no more frames."""
        if self._closed:
            return
        self._closed = True
        self._tap = None
        self._receiver = None
        if self._pending_request is not None:
            self._pending_request.cancel()
            self._pending_request = None
        for track in list(self._tracks):
            track._close()
        self._tracks.clear()

    def _join(self, track: ForwardedTrack) -> None:
        if self._closed:
            track._close()
            return
        self._tracks.add(track)
        self.request_keyframe()

    def _leave(self, track: ForwardedTrack) -> None:
        self._tracks.discard(track)

    def _forward(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        data = frame.data
        if not data:
            return
        keyframe = is_keyframe(codec.name, data)
        self.frames_in += 1
        if keyframe and self.kind == "video":
            self.keyframes_in += 1
            # A keyframe answers every request made before it.
            if self._pending_request is not None:
                self._pending_request.cancel()
                self._pending_request = None
        if self._rebase or self._last_pts is None:
            self._rebase = False
            if self._last_pts is not None:
                self._offset = self._last_pts + _TIMELINE_STEP[self.kind] - frame.timestamp
        pts = frame.timestamp + self._offset
        self._last_pts = pts
        if not self._tracks:
            return
        if self._time_base is None or self._time_base.denominator != codec.clockRate:
            self._time_base = fractions.Fraction(1, codec.clockRate)
        if self._packer is None or self._packer_codec != codec.mimeType:
            self._packer, self._packer_codec = get_encoder(codec), codec.mimeType
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = self._time_base
        shared = SharedFrame(packet, self._packer, keyframe)
        for track in self._tracks:
            track._push(shared)

    def _send_pli(self) -> None:
        self._pending_request = None
        receiver = self._receiver
        if receiver is None or self._closed:
            return
        ssrc = self._media_ssrc if self._media_ssrc is not None else _latest_source(receiver)
        if ssrc is None:
            return
        self._last_request = time.monotonic()
        self.keyframe_requests_sent += 1
        logger.debug("%s: PLI to publisher ssrc %d", self._label, ssrc)
        task = asyncio.ensure_future(aiortc_private.send_pli(receiver, ssrc))
        self._pli_tasks.add(task)
        task.add_done_callback(self._pli_tasks.discard)
        # A PLI can be lost, and a still screen may send no keyframe for minutes: ask again every
        # interval while someone still waits for one (LiveKit found the same, livekit PRs #436/#683).
        # The keyframe's arrival cancels the next request (`_forward`).
        if any(track._need_keyframe for track in self._tracks):
            self._pending_request = asyncio.get_running_loop().call_later(KEYFRAME_REQUEST_INTERVAL, self._send_pli)


def _latest_source(receiver: RTCRtpReceiver) -> int | None:
    sources = receiver.getSynchronizationSources()
    if not sources:
        return None
    return int(max(sources, key=lambda source: source.timestamp).source)
