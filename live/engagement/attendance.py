"""Per-person attendance of one session, derived from its event log (pure, recomputable)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from live.engagement.frozen import quick_init
from live.events.model import EventType, LogEvent

Interval = tuple[datetime, datetime]

# Within one instant, events apply in the order a session runs: it starts, people join, they act,
# they leave, it ends. With a full tie-break on the payload the derivation is a function of the set
# of events, not of the order a batching writer happened to flush them in.
_TYPE_RANK: dict[EventType, int] = {EventType.SESSION_STARTED: 0, EventType.JOINED: 1, EventType.LEFT: 8}
_DEFAULT_RANK = 5
_LAST_RANK = 9  # SESSION_ENDED, and POLL_CLOSED just before it
_CLOSING_RANK = {EventType.POLL_CLOSED: 7, EventType.SESSION_ENDED: _LAST_RANK}


class SessionWindow(NamedTuple):
    """The session as run: where presence is clipped, and the length attendance is measured against."""

    start: datetime
    end: datetime
    length_seconds: float


@quick_init
@dataclass(frozen=True)
class PersonAttendance:
    participant_id: str
    contact_id: str | None
    role: str
    name: str
    # One (joined_at, left_at) per connection, sorted; a connection still open ends at the window end.
    intervals: tuple[Interval, ...]
    joined_at: datetime | None
    # None while the person is still connected to a session that has not ended.
    left_at: datetime | None
    present_seconds: float
    focused_seconds: float
    camera_seconds: float
    chat_messages: int
    questions: int
    poll_answers: int
    polls_open_while_present: int
    reactions: int
    hand_raises: int
    # Seconds spoken as a speaker from the audience (webinars): from accepting the host's invitation to
    # a revoke, leaving or the end, counted only while present.
    spoke_seconds: float = 0.0


def ordered(events: Iterable[LogEvent]) -> list[LogEvent]:
    """Events by time, then in run order within an instant, then by content (deterministic).

    The content (the payload as JSON) only decides between events equal in everything else, which is
    rare; so the log is sorted on the cheap key first and only such runs are sorted by content."""
    keyed = sorted(((_cheap_key(e), e) for e in events), key=_first)  # stable: equal keys keep their order
    keys = [key for key, _ in keyed]
    log = [e for _, e in keyed]
    i = 0
    while i < len(log) - 1:
        j = i + 1
        while j < len(log) and keys[j] == keys[i]:
            j += 1
        if j - i > 1:
            log[i:j] = sorted(log[i:j], key=_sort_key)
        i = j
    return log


def _first(pair: tuple[tuple[datetime, int, str, str], LogEvent]) -> tuple[datetime, int, str, str]:
    return pair[0]


def _type_key(kind: EventType) -> tuple[int, str]:
    # The ":" keeps this ordering the same as `_sort_key`'s "type:payload" when one type prefixes another.
    return _TYPE_RANK.get(kind, _CLOSING_RANK.get(kind, _DEFAULT_RANK)), f"{kind.value}:"


# Per type, computed once: a year of history sorts ~100,000 events, and `Enum.value` is a slow property.
_TYPE_KEYS = {kind: _type_key(kind) for kind in EventType}


def _cheap_key(event: LogEvent) -> tuple[datetime, int, str, str]:
    rank, kind = _TYPE_KEYS.get(event.type) or _type_key(event.type)
    return (event.at, rank, event.participant_id or "", kind)


def _sort_key(event: LogEvent) -> tuple[datetime, int, str, str]:
    rank = _TYPE_RANK.get(event.type, _CLOSING_RANK.get(event.type, _DEFAULT_RANK))
    payload = json.dumps(event.data, sort_keys=True, default=str)
    return (event.at, rank, event.participant_id or "", f"{event.type.value}:{payload}")


class _Bounds(NamedTuple):
    started_at: datetime | None
    first_join: datetime | None
    ended_at: datetime | None


def _bounds(events: Sequence[LogEvent]) -> _Bounds:
    started = [e.at for e in events if e.type is EventType.SESSION_STARTED]
    joins = [e.at for e in events if e.type is EventType.JOINED]
    started_at = min(started) if started else None
    first_join = min(joins) if joins else None
    start = started_at or first_join
    ends = [e.at for e in events if e.type is EventType.SESSION_ENDED]
    # The first end at or after the start is the real one; an end logged before the start (a skewed
    # clock) still means the session is over, with no length.
    valid_ends = [at for at in ends if start is None or at >= start]
    ended_at = min(valid_ends) if valid_ends else (start if ends else None)
    return _Bounds(started_at, first_join, ended_at)


def session_window(
    events: Sequence[LogEvent], scheduled_start: datetime, scheduled_minutes: float, now: datetime
) -> SessionWindow:
    """From the host's start (or the first join, or the schedule) to its end (or `now` while live).

    The length is the session as run once it has ended; while it is still live (or never started)
    it is the scheduled length, so nobody's share is judged against a session half over.
    """
    bounds = _bounds(events)
    start = bounds.started_at or bounds.first_join or scheduled_start
    if bounds.ended_at is not None:
        end = max(bounds.ended_at, start)
        return SessionWindow(start, end, (end - start).total_seconds())
    return SessionWindow(start, max(now, start), max(0.0, scheduled_minutes * 60.0))


@dataclass
class _Connection:
    participant_id: str
    opened_at: datetime
    visible_since: datetime | None
    camera_since: datetime | None


@dataclass
class _Person:
    participant_id: str
    contact_id: str | None = None
    role: str = ""
    name: str = ""
    presence: list[Interval] = field(default_factory=list)
    visible: list[Interval] = field(default_factory=list)
    camera: list[Interval] = field(default_factory=list)
    chat_ids: set[str] = field(default_factory=set)
    chat_count: int = 0
    question_ids: set[str] = field(default_factory=set)
    question_count: int = 0
    voted_polls: set[str] = field(default_factory=set)
    reactions: int = 0
    hand_raises: int = 0
    speaking: list[Interval] = field(default_factory=list)
    speaking_since: datetime | None = None


class _Replay:
    """One pass over the ordered log, keeping each open connection's focus and camera state."""

    def __init__(self) -> None:
        self.people: dict[str, _Person] = {}
        self.connections: dict[str, _Connection] = {}
        self.poll_opened: dict[str, datetime] = {}
        self.poll_spans: dict[str, list[Interval]] = {}

    def person(self, participant_id: str) -> _Person:
        if participant_id not in self.people:
            self.people[participant_id] = _Person(participant_id, contact_id=_contact_from_id(participant_id))
        return self.people[participant_id]

    def apply(self, event: LogEvent) -> None:
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event)

    def joined(self, event: LogEvent) -> None:
        sid = _sid(event)
        if event.participant_id is None or sid is None or sid in self.connections:
            return
        person = self.person(event.participant_id)
        _fill_identity(person, event)
        self.connections[sid] = _Connection(event.participant_id, event.at, event.at, None)

    def left(self, event: LogEvent) -> None:
        sid = _sid(event)
        if sid is not None and sid in self.connections:
            self.close(sid, event.at)

    def close(self, sid: str, at: datetime) -> None:
        conn = self.connections.pop(sid)
        person = self.people[conn.participant_id]
        end = max(at, conn.opened_at)
        person.presence.append((conn.opened_at, end))
        if conn.visible_since is not None:
            person.visible.append((conn.visible_since, end))
        if conn.camera_since is not None:
            person.camera.append((conn.camera_since, end))

    def focus(self, event: LogEvent) -> None:
        conn = self._open_connection(event)
        if conn is not None:
            visible = bool(event.data.get("visible", True))
            owner = self.people[conn.participant_id]
            conn.visible_since = _toggle(owner.visible, conn.visible_since, visible, event.at)

    def media(self, event: LogEvent) -> None:
        conn = self._open_connection(event)
        if conn is not None and "camera" in event.data:
            camera = bool(event.data["camera"])
            owner = self.people[conn.participant_id]
            conn.camera_since = _toggle(owner.camera, conn.camera_since, camera, event.at)

    def _open_connection(self, event: LogEvent) -> _Connection | None:
        sid = _sid(event)
        if sid is None or sid not in self.connections:
            return None
        return self.connections[sid]

    def chat(self, event: LogEvent) -> None:
        if event.participant_id is not None:
            person = self.person(event.participant_id)
            person.chat_count += _count_once(person.chat_ids, event)

    def asked(self, event: LogEvent) -> None:
        if event.participant_id is not None:
            person = self.person(event.participant_id)
            person.question_count += _count_once(person.question_ids, event)

    def voted(self, event: LogEvent) -> None:
        poll_id = event.data.get("poll_id")
        if event.participant_id is not None and poll_id is not None:
            self.person(event.participant_id).voted_polls.add(str(poll_id))

    def reaction(self, event: LogEvent) -> None:
        if event.participant_id is not None:
            self.person(event.participant_id).reactions += 1

    def hand(self, event: LogEvent) -> None:
        if event.participant_id is not None:
            self.person(event.participant_id).hand_raises += 1

    def speaker(self, event: LogEvent) -> None:
        if event.participant_id is not None:
            person = self.person(event.participant_id)
            on = event.type is EventType.SPEAKER_STARTED
            person.speaking_since = _toggle(person.speaking, person.speaking_since, on, event.at)

    def poll_open(self, event: LogEvent) -> None:
        poll_id = event.data.get("poll_id")
        if poll_id is not None and str(poll_id) not in self.poll_opened:
            self.poll_opened[str(poll_id)] = event.at

    def poll_close(self, event: LogEvent) -> None:
        opened = self.poll_opened.pop(str(event.data.get("poll_id")), None)
        if opened is not None:
            self.poll_spans.setdefault(str(event.data.get("poll_id")), []).append((opened, event.at))

    def finish(self, end: datetime) -> None:
        """Close what the log left open at the window end: connections and polls."""
        for sid in sorted(self.connections):
            self.close(sid, end)
        for poll_id, opened in sorted(self.poll_opened.items()):
            self.poll_spans.setdefault(poll_id, []).append((opened, max(end, opened)))
        self.poll_opened.clear()
        for person in self.people.values():
            if person.speaking_since is not None:
                person.speaking.append((person.speaking_since, max(end, person.speaking_since)))
                person.speaking_since = None


_HANDLERS = {
    EventType.JOINED: _Replay.joined,
    EventType.LEFT: _Replay.left,
    EventType.FOCUS: _Replay.focus,
    EventType.MEDIA_STATE: _Replay.media,
    EventType.CHAT_MESSAGE: _Replay.chat,
    EventType.QA_ASKED: _Replay.asked,
    EventType.POLL_VOTED: _Replay.voted,
    EventType.REACTION: _Replay.reaction,
    EventType.HAND_RAISED: _Replay.hand,
    EventType.POLL_OPENED: _Replay.poll_open,
    EventType.POLL_CLOSED: _Replay.poll_close,
    EventType.SPEAKER_STARTED: _Replay.speaker,
    EventType.SPEAKER_STOPPED: _Replay.speaker,
}


def _toggle(done: list[Interval], since: datetime | None, on: bool, at: datetime) -> datetime | None:
    """Switch one connection's on/off state; a finished "on" stretch is kept in `done`."""
    if on:
        return since if since is not None else at
    if since is not None:
        done.append((since, at))
    return None


def _sid(event: LogEvent) -> str | None:
    sid = event.data.get("sid")
    return None if sid is None else str(sid)


def _contact_from_id(participant_id: str) -> str | None:
    return participant_id[2:] if participant_id.startswith("c_") and len(participant_id) > 2 else None


def _fill_identity(person: _Person, event: LogEvent) -> None:
    """The first join names the person; later joins only fill what it left blank."""
    contact_id = event.data.get("contact_id")
    if contact_id is not None and person.contact_id is None:
        person.contact_id = str(contact_id)
    if not person.role:
        person.role = str(event.data.get("role") or "")
    if not person.name:
        person.name = str(event.data.get("name") or "")


def _count_once(seen: set[str], event: LogEvent) -> int:
    """A message id logged twice (a retried write) is one message; one without an id always counts."""
    message_id = event.data.get("id")
    if message_id is None:
        return 1
    if str(message_id) in seen:
        return 0
    seen.add(str(message_id))
    return 1


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of intervals as disjoint, sorted intervals (two tabs are counted once)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def clipped_seconds(intervals: Iterable[Interval], start: datetime, end: datetime) -> float:
    """Seconds of the union of `intervals` that fall inside [start, end]."""
    total = timedelta()
    for a, b in merge(intervals):
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += hi - lo
    return total.total_seconds()


def overlap_seconds(a: Iterable[Interval], b: Iterable[Interval], start: datetime, end: datetime) -> float:
    """Seconds inside [start, end] covered by both `a` and `b` (speaking while present)."""
    total = timedelta()
    others = merge(b)
    for a_start, a_end in merge(a):
        for b_start, b_end in others:
            lo, hi = max(a_start, b_start, start), min(a_end, b_end, end)
            if hi > lo:
                total += hi - lo
    return total.total_seconds()


def _overlaps(spans: Sequence[Interval], presence: Sequence[Interval]) -> bool:
    return any(a < d and c < b for a, b in spans for c, d in presence)


def derive_attendance(events: Iterable[LogEvent], now: datetime) -> list[PersonAttendance]:
    """One row per person seen in the log (joined or acted), sorted by participant id.

    Presence is clipped to the session as run: from SESSION_STARTED (or the first join if the host
    never started it) to SESSION_ENDED (or `now` while it is live). Odd logs never raise: a LEFT
    without a JOINED, a second LEFT or JOINED for one connection and events for unknown
    connections are ignored.
    """
    log = ordered(events)
    bounds = _bounds(log)
    start = bounds.started_at or bounds.first_join or now
    end = bounds.ended_at if bounds.ended_at is not None else max(now, start)
    replay = _Replay()
    for event in log:
        replay.apply(event)
    live = bounds.ended_at is None
    still_open = {conn.participant_id for conn in replay.connections.values()} if live else set()
    replay.finish(end)
    return [
        _row(person, replay.poll_spans, start, end, person.participant_id in still_open)
        for _, person in sorted(replay.people.items())
    ]


def _row(
    person: _Person, poll_spans: dict[str, list[Interval]], start: datetime, end: datetime, still_open: bool
) -> PersonAttendance:
    presence = sorted(person.presence)
    opened = {pid for pid, spans in poll_spans.items() if _overlaps(spans, presence)}
    # A vote proves the poll was open while the person was there, whatever the log lost.
    opened |= person.voted_polls
    return PersonAttendance(
        participant_id=person.participant_id,
        contact_id=person.contact_id,
        role=person.role,
        name=person.name,
        intervals=tuple(presence),
        joined_at=presence[0][0] if presence else None,
        left_at=None if still_open or not presence else max(b for _, b in presence),
        present_seconds=clipped_seconds(presence, start, end),
        focused_seconds=clipped_seconds(person.visible, start, end),
        camera_seconds=clipped_seconds(person.camera, start, end),
        chat_messages=person.chat_count,
        questions=person.question_count,
        poll_answers=len(person.voted_polls),
        polls_open_while_present=len(opened),
        reactions=person.reactions,
        hand_raises=person.hand_raises,
        spoke_seconds=overlap_seconds(person.speaking, presence, start, end) if person.speaking else 0.0,
    )
