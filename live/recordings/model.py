"""Recording rules, the recorded timeline, chapters and replay progress: pure functions and values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from live.errors import Conflict, Forbidden, LiveError
from live.rooms.model import STAFF, RoomRole
from live.sessions.model import SessionKind

# A recorded track's RTP clock may disagree with the wall clock by this much before it is re-anchored
# to the wall clock. Jitter on a healthy path is tens of milliseconds; a publisher that restarts (its
# forwarder continues the old timeline one frame on) or a 32-bit RTP timestamp that wraps shows up
# as a jump of seconds. Re-anchoring keeps the file as long as the time it covers.
MAX_CLOCK_DRIFT = 0.5
# A progress report moving the position forward by at most this much more than the wall time since
# the previous one counts as watched; anything more is a seek (skipping ahead is not watching).
SEEK_SLACK_SECONDS = 5.0
# Reports further apart than this are two viewings, not one continuous one (the player reports at
# least every 15 s while playing).
MAX_REPORT_GAP_SECONDS = 60.0
# The score kind of a replay watched (DESIGN: "Replay counts, less"); its weight is the engagement
# configuration's `kind_weights["on_demand"]` (0.5).
ON_DEMAND = "on_demand"
# A person "watched the replay" when they watched at least this share of it (as attended: half).
WATCHED_SHARE = 0.5


class RecordingStatus(StrEnum):
    RECORDING = "recording"
    READY = "ready"
    DELETED = "deleted"


class NotRecording(LiveError):
    code = "not_recording"
    status = 409


class AlreadyRecording(Conflict):
    code = "already_recording"


class NotRecordable(LiveError):
    """Recording asked for in a one-on-one: its media never reaches the server."""

    code = "wrong_kind"
    status = 409


def check_can_record(kind: str, role: RoomRole) -> None:
    if role not in STAFF:
        raise Forbidden(f"Only the host or a co-host may start or stop a recording; you are {role.value!r}.")
    if kind not in tuple(SessionKind) or not SessionKind(kind).broadcasts:
        raise NotRecordable(
            f"Only webinars and welcome seminars are recorded; a {kind!r} session is peer to peer "
            "and its media never reaches the server."
        )


def check_can_delete(role: str, user_id: str, host_id: str) -> None:
    if role != "admin" and user_id != host_id:
        raise Forbidden("Only an admin or the session's host may delete its recordings.")


def expired(ended_at: datetime | None, now: datetime, retention_days: float) -> bool:
    """A finished recording older than the retention period (0 or less keeps them for good)."""
    if ended_at is None or retention_days <= 0:
        return False
    return now - ended_at >= timedelta(days=retention_days)


class Timeline:
    """Places one track's frames on the recording's clock: ticks of `clock_rate` since it started.

    A frame's time comes from its RTP timestamp (`source`), anchored to the wall clock (`wall`,
    seconds since the recording started) at the first frame and again whenever the two disagree by
    more than `MAX_CLOCK_DRIFT` (a restart, a long keyframe wait, a wrap). Every result is at least
    a millisecond after the one before: WebM muxers refuse anything not strictly increasing (aiortc's
    `MediaRecorder` fails with "non-strictly-monotonic PTS" exactly there), and WebM keeps
    milliseconds, so frames closer than that would share a timestamp in the file.

    Never back in time: when the track runs *ahead* of the wall clock (its first frame came late,
    e.g. after the event loop stalled, and the frames queued behind it arrive in a burst), moving
    back to the wall clock would squeeze the frames that follow into one millisecond each until
    their RTP time caught up, which players decode as garbage. It carries on at the track's own
    pace from its last frame instead.
    """

    def __init__(self, clock_rate: int, max_drift: float = MAX_CLOCK_DRIFT) -> None:
        if clock_rate <= 0:
            raise ValueError(f"clock rate {clock_rate!r} is not positive")
        self.clock_rate = clock_rate
        self._max_drift = max_drift
        self._anchor_source: int | None = None
        self._anchor_ticks = 0
        self._last: int | None = None
        self._last_source = 0
        # One millisecond, WebM's resolution: the least step between two placed frames.
        self._min_step = max(1, clock_rate // 1000)
        self.reanchored = 0

    def place(self, source: int, wall: float) -> int:
        wall_ticks = round(max(0.0, wall) * self.clock_rate)
        if self._anchor_source is None:
            self._anchor_source, self._anchor_ticks = source, wall_ticks
        ticks = self._anchor_ticks + source - self._anchor_source
        drift = self._max_drift * self.clock_rate
        if abs(ticks - wall_ticks) > drift:
            if self._last is None or wall_ticks > self._last:
                self.reanchored += 1
                start = wall_ticks
            else:  # ahead of the wall clock: on from the last frame at the source's pace
                step = source - self._last_source
                start = self._last + (step if 0 < step <= drift else self._min_step)
            self._anchor_source, self._anchor_ticks = source, start
            ticks = start
        if self._last is not None and ticks < self._last + self._min_step:
            ticks = self._last + self._min_step
        self._last = ticks
        self._last_source = source
        return ticks

    @property
    def last(self) -> int | None:
        return self._last


def vp8_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 section 9.1), None for other frames."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


@dataclass(frozen=True)
class Chapter:
    """A moment of the session worth jumping to: a poll opened, a question asked."""

    at: datetime
    title: str


def _timestamp(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    # WebVTT cue text: one line, no "-->", and the three characters that start markup escaped.
    line = " ".join(text.split()).replace("-->", "->")
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return line[:200] or "(untitled)"


def chapters_vtt(chapters: Iterable[Chapter], started_at: datetime, duration_seconds: float) -> str:
    """A WebVTT chapters track: each chapter runs until the next one (the last to the end)."""
    offsets = sorted(
        ((c.at - started_at).total_seconds(), c.title) for c in chapters if started_at <= c.at
    )
    offsets = [(o, t) for o, t in offsets if o < duration_seconds]
    lines = ["WEBVTT", ""]
    for n, (offset, title) in enumerate(offsets):
        end = offsets[n + 1][0] if n + 1 < len(offsets) else duration_seconds
        if end <= offset:
            end = offset + 0.001
        lines += [str(n + 1), f"{_timestamp(offset)} --> {_timestamp(end)}", _cue_text(title), ""]
    return "\n".join(lines)


Interval = tuple[float, float]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same seconds."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covered(intervals: Sequence[Interval]) -> float:
    return sum(end - start for start, end in merge(intervals))


@dataclass(frozen=True)
class Viewing:
    """What a viewer has watched of one recording (seconds of the recording, never counted twice)."""

    watched: tuple[Interval, ...] = ()
    position: float | None = None
    playing: bool = False
    reported_at: datetime | None = None

    @property
    def seconds(self) -> float:
        return covered(self.watched)


def advance(viewing: Viewing, position: float, playing: bool, at: datetime, duration: float) -> Viewing:
    """A progress report: the stretch played since the previous report counts as watched.

    Only a stretch the player could really have played counts: it must start where the last report
    was, while playing, and move forward no faster than the wall clock (plus `SEEK_SLACK_SECONDS`).
    A seek, a pause or a long silence starts a new stretch. Watching the same part twice counts once.
    """
    # Judged before clamping: a jump far past the end is a seek even though it lands on the end.
    reported = max(0.0, position)
    position = min(reported, max(0.0, duration))
    watched = list(viewing.watched)
    if viewing.playing and viewing.position is not None and viewing.reported_at is not None:
        elapsed = (at - viewing.reported_at).total_seconds()
        moved = reported - viewing.position
        if 0 < moved and 0 <= elapsed <= MAX_REPORT_GAP_SECONDS and moved <= elapsed + SEEK_SLACK_SECONDS:
            watched.append((viewing.position, position))
    return Viewing(tuple(merge(watched)), position, playing, at)


def watched_replay(replay_seconds: float, duration_seconds: float) -> bool:
    return duration_seconds > 0 and replay_seconds >= WATCHED_SHARE * duration_seconds


def on_demand_score(replay_seconds: float, duration_seconds: float) -> float:
    """The score of a replay watched (kind `on_demand`): its attendance component alone, 0-100.

    Nobody can chat or vote in a replay, so the share of the recording watched is the whole of it.
    """
    if duration_seconds <= 0:
        return 0.0
    return 100.0 * min(1.0, max(0.0, replay_seconds / duration_seconds))
