"""Writing a session's forwarded VP8 and Opus frames into WebM files as they arrive, never re-encoded.

The recorder is one more subscriber of the media forwarder: for each recorded track it takes a
`ForwardedTrack` and receives its `SharedFrame`s synchronously (`FrameOutput`), the same way the
direct senders do, so recording costs one copy of each frame's bytes and PyAV's Matroska muxer
(libavformat), no decoder and no encoder. Its files (see docs/recordings.md):

- `<id>.webm`: the presenter's camera (VP8) and microphone (Opus): the first publisher's;
- `<id>.<participant id>.webm`: each other publisher's camera and microphone (a co-host, a speaker
  from the audience), from their first keyframe, on the same clock (a speaker who starts ten minutes
  in starts at 10:00);
- `<id>.screen.webm`: the shared screen (VP8), written only if someone shared, on the same clock.

Timestamps: each track's frames are placed by a `Timeline` (RTP time, re-anchored to the wall clock
when the two part), so a keyframe wait, lost packets or a publisher that restarts never make the
muxer see a timestamp go back, and the file lasts as long as the recording did.

A Matroska header names every stream before the first packet, so a file is opened at its first
video keyframe (which tells the picture size); audio that arrives before it waits in a short buffer.
"""

from __future__ import annotations

import fractions
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import av
from av.container import OutputContainer

from live.media.forwarder import ForwardedTrack, SharedFrame, TrackForwarder
from live.recordings.model import Timeline, vp8_dimensions

log = logging.getLogger(__name__)

CLOCK_RATES = {"video": 90_000, "audio": 48_000}
# Audio kept while a file waits for its first video keyframe: 5 s of 20 ms Opus frames. Past that the
# file is opened anyway (an audio-only presenter) with a placeholder picture size.
AUDIO_BEFORE_VIDEO = 250
PLACEHOLDER_SIZE = (640, 480)
# How the WebM muxer writes (libavformat options), so that what a process killed mid-recording leaves
# on disk is the recording up to a second or two before the kill (`live.recordings.salvage`): a cluster
# at least every second (the default holds five in memory), written out as soon as it is complete,
# and streams interleaved within a second (the default waits up to ten for a quiet one).
MUXER_OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1", "max_interleave_delta": "1000000"}


class TrackSource(Protocol):
    """Where a recorder finds a session's published tracks: the embedded engine's `MediaRouter`, or
    the Janus engine's `RecordingTap` (a subscriber of the origin room in this process)."""

    @property
    def publishers(self) -> list[str]: ...

    def forwarders(self, participant_id: str) -> list[TrackForwarder]: ...


@dataclass(frozen=True)
class RecordedFiles:
    duration_seconds: float
    main: Path | None
    screen: Path | None
    # participant id -> the file of a publisher other than the presenter (only those that got a picture).
    speakers: dict[str, Path] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        paths = (self.main, self.screen, *self.speakers.values())
        return sum(p.stat().st_size for p in paths if p is not None and p.exists())


class _File:
    """One WebM file with a fixed set of streams, opened at its first video keyframe."""

    def __init__(self, path: Path, kinds: tuple[str, ...], label: str) -> None:
        self.path = path
        self._kinds = kinds
        self._label = label
        self._container: OutputContainer | None = None
        self._streams: dict[str, Any] = {}
        self._pending: list[tuple[str, bytes, int, bool]] = []
        self.timelines = {kind: Timeline(CLOCK_RATES[kind]) for kind in kinds}
        self.packets = 0
        self.failed = False

    @property
    def opened(self) -> bool:
        return self._container is not None

    def write(self, kind: str, data: bytes, source: int, wall: float, keyframe: bool) -> None:
        if self.failed:
            return
        ticks = self.timelines[kind].place(source, wall)
        if self._container is None:
            size = vp8_dimensions(data) if kind == "video" and keyframe else None
            if size is None:
                if kind == "audio":
                    self._pending.append((kind, data, ticks, True))
                    if len(self._pending) >= AUDIO_BEFORE_VIDEO:
                        self._open(PLACEHOLDER_SIZE)
                return  # video before its first keyframe could not be decoded anyway
            self._open(size)
        self._mux(kind, data, ticks, keyframe)

    def _open(self, size: tuple[int, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="webm", options=MUXER_OPTIONS)
        for kind in self._kinds:
            if kind == "video":
                video = container.add_stream("vp8", rate=30)
                video.width, video.height = size
                self._streams[kind] = video
            else:
                self._streams[kind] = container.add_stream("opus", rate=48_000)
        self._container = container
        pending, self._pending = self._pending, []
        for kind, data, ticks, keyframe in pending:
            self._mux(kind, data, ticks, keyframe)

    def _mux(self, kind: str, data: bytes, ticks: int, keyframe: bool) -> None:
        assert self._container is not None
        packet = av.Packet(data)
        packet.stream = self._streams[kind]
        packet.time_base = fractions.Fraction(1, CLOCK_RATES[kind])
        packet.pts = packet.dts = ticks
        packet.is_keyframe = keyframe
        try:
            self._container.mux(packet)
        except Exception:
            # Runs on the publisher's receive path: a failing disk must not reach it; the recording
            # keeps what it has and the failure is in the log.
            self.failed = True
            log.exception("%s: writing %s failed; the recording stops here", self._label, self.path.name)
            return
        self.packets += 1

    def close(self) -> Path | None:
        container, self._container = self._container, None
        if container is None:
            return None
        try:
            container.close()
        except Exception:
            log.exception("%s: closing %s failed", self._label, self.path.name)
        return self.path


class _Input:
    """A `FrameOutput` of one forwarded track into one stream of one file."""

    def __init__(self, file: _File, kind: str, clock: Callable[[], float], on_end: Callable[[_Input], None]) -> None:
        self.file = file
        self.kind = kind
        self._clock = clock
        self._on_end = on_end
        self.track: ForwardedTrack | None = None

    def send(self, frame: SharedFrame) -> bool:
        packet = frame.packet
        if packet.pts is None:
            return False
        self.file.write(self.kind, bytes(packet), int(packet.pts), self._clock(), frame.keyframe)
        return True

    def end(self) -> None:
        self._on_end(self)


class Recorder:
    """One recording of one session: follows the router's tracks into the files until `stop()`.

    Every publisher is recorded, each into a file of their own: a Matroska header names its streams
    before the first packet, so a speaker who comes later cannot join a file already written. The
    first publisher seen is the presenter, whose file is the recording's main one (`<id>.webm`); a
    presenter who republishes (a restart) continues their own file.
    """

    def __init__(self, directory: Path, recording_id: str, label: str) -> None:
        self._label = label
        self._directory = directory
        self._recording_id = recording_id
        self._started = time.monotonic()
        self._main = _File(directory / f"{recording_id}.webm", ("video", "audio"), label)
        self._screen = _File(directory / f"{recording_id}.screen.webm", ("video",), label)
        self._presenter: str | None = None
        self._speakers: dict[str, _File] = {}
        # Slot -> the input currently feeding it: `camera:<participant>`, `microphone:<participant>`, `screen`.
        self._inputs: dict[str, _Input] = {}
        self._stopped = False

    def _file_of(self, participant_id: str) -> _File:
        if self._presenter is None:
            self._presenter = participant_id
        if participant_id == self._presenter:
            return self._main
        file = self._speakers.get(participant_id)
        if file is None:
            path = self._directory / f"{self._recording_id}.{participant_id}.webm"
            file = self._speakers[participant_id] = _File(path, ("video", "audio"), self._label)
        return file

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def follow(self, router: TrackSource | None) -> None:
        """Take each slot's track from the source's current publishers, where a slot has none."""
        if self._stopped or router is None:
            return
        # Slot -> (file, stream kind, forwarders that fit it), in the order the publishers first published.
        wanted: dict[str, tuple[Callable[[], _File], str, list[TrackForwarder]]] = {}
        for participant in router.publishers:
            forwarders = router.forwarders(participant)
            file = functools.partial(self._file_of, participant)
            wanted[f"camera:{participant}"] = (file, "video", [f for f in forwarders if f.kind == "video" and not f.screen])
            wanted[f"microphone:{participant}"] = (file, "audio", [f for f in forwarders if f.kind == "audio"])
        screens = [f for participant in router.publishers for f in router.forwarders(participant) if f.screen]
        wanted["screen"] = (lambda: self._screen, "video", [f for f in screens if f.kind == "video"])
        for slot, (file_of, kind, fitting) in wanted.items():
            current = self._inputs.get(slot)
            if current is not None and current.track is not None and not current.track.forwarder.closed:
                continue
            forwarder = next((f for f in fitting if not f.closed), None)
            if forwarder is None:
                continue
            sink = _Input(file_of(), kind, self.elapsed, functools.partial(self._ended, slot))
            sink.track = forwarder.subscribe()
            self._inputs[slot] = sink
            sink.track._attach(sink)
            log.info("%s: recording %s from %r", self._label, slot, forwarder)

    def _ended(self, slot: str, sink: _Input) -> None:
        if self._inputs.get(slot) is sink:
            del self._inputs[slot]

    def stop(self) -> RecordedFiles:
        """Stop taking frames and finish the files (their indexes and durations are written now)."""
        duration = self.elapsed()
        self._stopped = True
        for sink in list(self._inputs.values()):
            if sink.track is not None:
                sink.track.stop()
        self._inputs.clear()
        speakers = {participant: file.close() for participant, file in self._speakers.items()}
        kept = {participant: path for participant, path in speakers.items() if path is not None}
        return RecordedFiles(duration, self._main.close(), self._screen.close(), kept)
