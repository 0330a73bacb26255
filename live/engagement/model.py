"""Scores: one person's 0-100 score for a session, and an account's time-decayed engagement."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from live.engagement.config import EngagementConfig
from live.engagement.frozen import quick_init
from live.sessions.model import SessionKind

SECONDS_PER_DAY = 86_400.0


class Measures(Protocol):
    """What a score is computed from; `PersonAttendance` and `SessionMeasures` both fit."""

    @property
    def present_seconds(self) -> float: ...
    @property
    def focused_seconds(self) -> float: ...
    @property
    def camera_seconds(self) -> float: ...
    @property
    def chat_messages(self) -> int: ...
    @property
    def questions(self) -> int: ...
    @property
    def poll_answers(self) -> int: ...
    @property
    def polls_open_while_present(self) -> int: ...
    @property
    def reactions(self) -> int: ...
    @property
    def hand_raises(self) -> int: ...
    @property
    def spoke_seconds(self) -> float: ...


@dataclass(frozen=True)
class SessionMeasures:
    """Plain measures; all zero (the default) is an invited no-show."""

    present_seconds: float = 0.0
    focused_seconds: float = 0.0
    camera_seconds: float = 0.0
    chat_messages: int = 0
    questions: int = 0
    poll_answers: int = 0
    polls_open_while_present: int = 0
    reactions: int = 0
    hand_raises: int = 0
    spoke_seconds: float = 0.0


@quick_init
@dataclass(frozen=True)
class Component:
    """One line of a score's explanation: the measure (0..1, None when it did not apply), its
    effective weight (out of 100, after redistribution) and the points it earned."""

    value: float | None
    weight: float
    points: float

    def as_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "weight": self.weight, "points": self.points}


@dataclass(frozen=True)
class PersonScore:
    score: float
    components: dict[str, Component]
    attended: bool
    config_version: str

    def components_dict(self) -> dict[str, dict[str, float | None]]:
        """The JSON shape stored beside the score: name -> {value, weight, points}."""
        return {name: {"value": c.value, "weight": c.weight, "points": c.points} for name, c in self.components.items()}


@quick_init
@dataclass(frozen=True)
class ScoredSession:
    """One invited contact's score for one session: the input of the account roll-up."""

    session_id: str
    contact_id: str
    kind: str
    ended_at: datetime
    score: float
    attended: bool


def ratio(part: float, whole: float) -> float:
    """part / whole clipped to 0..1; nothing of nothing is 0."""
    if whole <= 0:
        return 0.0
    return min(1.0, max(0.0, part / whole))


def saturating(count: float, scale: float) -> float:
    """1 - e^(-n/scale): the first few messages or reactions matter most, and it never passes 1."""
    if count <= 0 or scale <= 0:
        return 0.0 if count <= 0 else 1.0
    return 1.0 - math.exp(-count / scale)


def attended(present_seconds: float, session_length_seconds: float, config: EngagementConfig) -> bool:
    """Present for at least `attended_share` of the session as run (and present at all)."""
    return present_seconds > 0 and present_seconds >= config.attended_share * session_length_seconds


_KINDS: dict[str, SessionKind] = {kind.value: kind for kind in SessionKind}


def _session_kind(kind: SessionKind | str) -> SessionKind:
    """`SessionKind(kind)` (an unknown kind still raises ValueError) without the enum call per score."""
    return _KINDS.get(kind) or SessionKind(kind)


def component_values(
    measures: Measures, kind: SessionKind | str, session_length_seconds: float, config: EngagementConfig
) -> dict[str, tuple[float | None, float]]:
    """name -> (measure 0..1 or None when it does not apply, configured weight).

    Polls that were never opened while the person was there neither reward nor penalise: the
    component gets no value and its weight is shared out over the others by `score_person`.
    """
    present = measures.present_seconds
    if present > 0 and session_length_seconds <= 0:
        attendance = 1.0  # a zero-length session: being there at all is all of it
    else:
        attendance = ratio(present, session_length_seconds)
    values: dict[str, tuple[float | None, float]] = {
        "attendance": (attendance, config.weight_attendance),
        "attention": (ratio(measures.focused_seconds, present), config.weight_attention),
    }
    if _session_kind(kind) is SessionKind.ONE_ON_ONE:
        # Nobody polls a conversation of three people; having the camera on is the engagement there.
        values["camera"] = (ratio(measures.camera_seconds, present), config.weight_polls)
    else:
        opened = measures.polls_open_while_present
        polls = ratio(measures.poll_answers, opened) if opened > 0 else None
        values["polls"] = (polls, config.weight_polls)
    # Speaking from the stage (a webinar speaker) is conversation too: each minute spoken counts as
    # `speaking_weight` messages.
    spoken_minutes = max(0.0, measures.spoke_seconds) / 60.0
    talk = measures.chat_messages + config.question_weight * measures.questions + config.speaking_weight * spoken_minutes
    values["conversation"] = (saturating(talk, config.conversation_scale), config.weight_conversation)
    signals = measures.reactions + measures.hand_raises
    values["signals"] = (saturating(signals, config.signals_scale), config.weight_signals)
    return values


def score_person(
    measures: Measures, kind: SessionKind | str, session_length_seconds: float, config: EngagementConfig
) -> PersonScore:
    """0-100 with its components. Weights are normalised to 100 over the components that apply,
    so the score stays in range whatever the configured weights add up to."""
    values = component_values(measures, kind, session_length_seconds, config)
    if measures.present_seconds <= 0:
        # An invited no-show scores 0 and counts, whatever else the log says about them.
        values = {name: (0.0, weight) for name, (_, weight) in values.items()}
    # Plain loops, summing in the same order as `sum()` would (a score is computed ~25,000 times a year).
    total_weight: float = 0
    for value, weight in values.values():
        if value is not None:
            total_weight += weight if weight > 0.0 else 0.0
    components: dict[str, Component] = {}
    total_points: float = 0
    for name, (value, weight) in values.items():
        if value is not None:
            share = 100.0 * (weight if weight > 0.0 else 0.0) / total_weight if total_weight > 0 else 0.0
            points = share * value
        else:
            share = points = 0.0
        total_points += points
        components[name] = Component(value=value, weight=share, points=points)
    score = min(100.0, max(0.0, total_points))
    return PersonScore(
        score=score,
        components=components,
        attended=attended(measures.present_seconds, session_length_seconds, config),
        config_version=config.version,
    )


def decay(age_days: float, half_life_days: float) -> float:
    """0.5^(age / half-life): a score a half-life old counts half; a future date counts fully."""
    if half_life_days <= 0:
        return 1.0
    return math.pow(0.5, max(0.0, age_days) / half_life_days)


def age_days(at: datetime, now: datetime) -> float:
    return (now - at).total_seconds() / SECONDS_PER_DAY


def session_weight(scored: ScoredSession, now: datetime, config: EngagementConfig) -> float:
    """How much one score counts in the account's mean: its kind's weight, decayed by its age."""
    kind_weight = config.kind_weights.get(str(scored.kind), 1.0)
    return max(0.0, kind_weight) * decay(age_days(scored.ended_at, now), config.half_life_days)


def decayed_mean(scores: Sequence[ScoredSession], now: datetime, config: EngagementConfig) -> float | None:
    """The weighted, time-decayed mean of the scores (no-shows count as 0) as of `now`, over those that
    ended by then; None when there is nothing to judge."""
    past = [s for s in scores if s.ended_at <= now]
    weights = [session_weight(s, now, config) for s in past]
    # fsum is exactly rounded, so the mean does not depend on the order the scores came in.
    total = math.fsum(weights)
    if not past or total <= 0:
        return None
    return math.fsum(w * min(100.0, max(0.0, s.score)) for w, s in zip(weights, past, strict=True)) / total


def account_engagement(
    scores: Sequence[ScoredSession], now: datetime, config: EngagementConfig
) -> float | None:
    """The account's engagement at `now`: the decayed mean of its contacts' scores over the sessions they
    were invited to, or None ("not enough data") when fewer than `min_evidence_sessions` scored sessions
    ended in the half-life window before `now`. Sessions after `now` are left out so that replaying
    history at an earlier date sees only what had happened by then."""
    return ScoreHistory(scores, config).engagement(now)


def score_order(s: ScoredSession) -> tuple[datetime, str, str]:
    return (s.ended_at, s.session_id, s.contact_id)


class ScoreHistory:
    """One account's scores, sorted once, answering what every evaluation asks of them by bisection.

    The engine evaluates an account at every session end and every midnight (a year is ~365
    evaluations), so nothing here walks the whole list per question. The decayed mean needs no walk
    either: every weight decays by the same factor 0.5^(dt / half-life) as time passes, so the mean
    changes only when a score is added. It is computed once per prefix, dated at that prefix's last
    end, and the same value is returned for any later `now` (equal to recomputing it then, up to
    rounding, and the same whoever asks and when).
    """

    def __init__(self, scores: Iterable[ScoredSession], config: EngagementConfig) -> None:
        self.config = config
        self.scores: tuple[ScoredSession, ...] = tuple(sorted(scores, key=score_order))
        self.ends = [s.ended_at for s in self.scores]
        first_end: dict[str, datetime] = {}
        for s in self.scores:
            first_end.setdefault(s.session_id, s.ended_at)
        self.session_ends = sorted(first_end.values())
        self._means = self._prefix_means()
        last: list[ScoredSession | None] = []
        latest: ScoredSession | None = None
        for s in self.scores:
            if s.attended:
                latest = s
            last.append(latest)
        self._last_attended = last
        # Attended welcome seminars in score order: onboarding asks for the first one after a date.
        self._welcomes = [s for s in self.scores if s.attended and s.kind == SessionKind.WELCOME_SEMINAR]
        self._welcome_ends = [s.ended_at for s in self._welcomes]
        # An evaluation asks several questions at one `now` and for a few fixed window lengths: the
        # bisections at the last `now` and the windows as timedeltas are kept (a replay makes ~30,000).
        self._spans: dict[float, timedelta] = {}
        self._now: datetime | None = None
        self._count = self._ended = 0

    def span(self, days: float) -> timedelta:
        """`timedelta(days=days)`, made once per length."""
        span = self._spans.get(days)
        if span is None:
            span = self._spans[days] = timedelta(days=days)
        return span

    def _at(self, now: datetime) -> tuple[int, int]:
        """(scores ended by `now`, sessions ended by `now`), remembered for the last `now` asked."""
        if now is not self._now:
            self._now = now
            self._count = bisect.bisect_right(self.ends, now)
            self._ended = bisect.bisect_right(self.session_ends, now)
        return self._count, self._ended

    def first_welcome_attended(self, after: datetime | None, now: datetime) -> ScoredSession | None:
        """The first attended welcome seminar (in score order) that ended after `after` and by `now`."""
        i = 0 if after is None else bisect.bisect_right(self._welcome_ends, after)
        if i < len(self._welcomes) and self._welcome_ends[i] <= now:
            return self._welcomes[i]
        return None

    def drops_below(self, now: datetime, days: float, threshold: int) -> datetime | None:
        """When the number of sessions in the `days` before the clock (counted as `sessions_within`)
        first falls below `threshold` with no new session; None if it is already below or never does."""
        span = self.span(days)
        lo = bisect.bisect_left(self.session_ends, now - span)
        hi = self._at(now)[1]
        count = hi - lo
        if threshold <= 0 or count < threshold:
            return None
        # Once this one leaves the window only threshold - 1 are left in it.
        return self.session_ends[lo + count - threshold] + span

    def next_expiry(self, now: datetime, days: float) -> datetime | None:
        """The first instant at or after `now` at which a session that had ended by `now` leaves the
        `days` window. A window includes its last instant, so a session expiring exactly at `now`
        still leaves a moment later: it is returned, and the caller skips nothing."""
        span = self.span(days)
        hi = self._at(now)[1]
        lo = bisect.bisect_left(self.session_ends, now - span)
        return self.session_ends[lo] + span if lo < hi else None

    def count(self, now: datetime) -> int:
        """How many scores had ended by `now`."""
        return self._at(now)[0]

    def past(self, now: datetime) -> tuple[ScoredSession, ...]:
        return self.scores[: self.count(now)]

    def within(self, now: datetime, days: float) -> tuple[ScoredSession, ...]:
        """Scores of sessions that ended in the `days` before `now` (inclusive), oldest first."""
        lo = bisect.bisect_left(self.ends, now - self.span(days))
        return self.scores[lo : self._at(now)[0]]

    def sessions_within(self, now: datetime, days: float) -> int:
        """How many distinct sessions ended in the `days` before `now` (inclusive)."""
        lo = bisect.bisect_left(self.session_ends, now - self.span(days))
        return max(0, self._at(now)[1] - lo)

    def last_attended(self, now: datetime) -> ScoredSession | None:
        k = self.count(now)
        return self._last_attended[k - 1] if k else None

    def _prefix_means(self) -> list[float | None]:
        """`decayed_mean` of each prefix, dated at its last end, in one pass: the weighted sums are
        decayed from one end to the next (factors <= 1, so nothing overflows however long the history)."""
        means: list[float | None] = [None]
        weighted = total = 0.0
        previous: datetime | None = None
        h = self.config.half_life_days
        for s in self.scores:
            if previous is not None and s.ended_at != previous:
                factor = decay(age_days(previous, s.ended_at), h)
                weighted *= factor
                total *= factor
            previous = s.ended_at
            w = max(0.0, self.config.kind_weights.get(str(s.kind), 1.0))
            weighted += w * min(100.0, max(0.0, s.score))
            total += w
            means.append(weighted / total if total > 0 else None)
        return means

    def mean(self, now: datetime) -> float | None:
        """The decayed mean of every score up to `now`, ignoring the evidence rule."""
        return self._means[self.count(now)]

    def has_evidence(self, now: datetime) -> bool:
        evidence = self.sessions_within(now, self.config.half_life_days)
        return evidence >= self.config.min_evidence_sessions

    def engagement(self, now: datetime) -> float | None:
        """The mean, or None when too few scored sessions ended in the half-life window ("not enough data")."""
        return self.mean(now) if self.has_evidence(now) else None


def within(scores: Iterable[ScoredSession], now: datetime, days: float) -> list[ScoredSession]:
    """Scores of sessions that ended in the `days` before `now` (inclusive), oldest first."""
    return sorted(
        (s for s in scores if 0 <= age_days(s.ended_at, now) <= days),
        key=lambda s: (s.ended_at, s.session_id, s.contact_id),
    )


def session_ids(scores: Iterable[ScoredSession]) -> list[str]:
    """Distinct session ids in first-seen order: the evidence list of a change."""
    return list(dict.fromkeys(s.session_id for s in scores))
