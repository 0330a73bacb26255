"""Read models of the loop, pure: a session's attendance report (rows, CSV), an account's engagement
series and the explanation of its engagement, tier and phase. No I/O: the store loads, this shapes."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from live.accounts.model import PHASE_ORDER, Phase, raise_tier
from live.engagement.attendance import Interval, PersonAttendance, SessionWindow, derive_attendance, session_window
from live.engagement.config import EngagementConfig
from live.engagement.engine import (
    EARLY_PHASES,
    AccountSnapshot,
    EngineState,
    evaluate,
    gather_facts,
)
from live.engagement.frozen import quick_init
from live.engagement.model import (
    PersonScore,
    ScoredSession,
    ScoreHistory,
    SessionMeasures,
    account_engagement,
    age_days,
    decay,
    score_person,
    session_ids,
    within,
)
from live.events.model import LogEvent
from live.isotime import iso


@dataclass(frozen=True)
class SessionInfo:
    id: str
    kind: str
    title: str
    starts_at: datetime
    duration_minutes: int
    status: str
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Person:
    """Who a contact or staff member is, as the report names them."""

    name: str
    email: str
    account_id: str | None = None


@quick_init
@dataclass(frozen=True)
class AttendanceRow:
    participant_id: str | None
    contact_id: str | None
    account_id: str | None
    name: str
    email: str
    role: str
    invited: bool
    joined_at: datetime | None
    left_at: datetime | None
    intervals: tuple[Interval, ...]
    present_seconds: float
    focused_seconds: float
    camera_seconds: float
    chat_messages: int
    questions: int
    poll_answers: int
    polls_open_while_present: int
    reactions: int
    hand_raises: int
    # None for staff: they are listed, never scored into an account.
    score: float | None
    components: dict[str, dict[str, float | None]]
    attended: bool
    no_show: bool
    # Why this row is not scored, in words ("too short to score"), or None when it is.
    note: str | None = None
    # Seconds of the session's recordings this contact watched on the replay page (never counted as
    # presence), and whether that was at least half of a recording; filled in by the report's edge.
    replay_seconds: float = 0.0
    watched_replay: bool = False
    # Seconds spoken as a speaker from the audience while present (webinars; 0 for everyone else).
    spoke_seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "contact_id": self.contact_id,
            "account_id": self.account_id,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "invited": self.invited,
            "joined_at": iso(self.joined_at),
            "left_at": iso(self.left_at),
            "intervals": [{"joined_at": iso(a), "left_at": iso(b)} for a, b in self.intervals],
            "present_seconds": round(self.present_seconds, 3),
            "focused_seconds": round(self.focused_seconds, 3),
            "camera_seconds": round(self.camera_seconds, 3),
            "chat_messages": self.chat_messages,
            "questions": self.questions,
            "poll_answers": self.poll_answers,
            "polls_open_while_present": self.polls_open_while_present,
            "reactions": self.reactions,
            "hand_raises": self.hand_raises,
            "score": None if self.score is None else round(self.score, 2),
            "components": self.components,
            "attended": self.attended,
            "no_show": self.no_show,
            "note": self.note,
            "replay_seconds": round(self.replay_seconds, 1),
            "watched_replay": self.watched_replay,
            "spoke_seconds": round(self.spoke_seconds, 3),
        }


@dataclass(frozen=True)
class AttendanceReport:
    session: SessionInfo
    window: SessionWindow
    ended_at: datetime  # the end the scores are dated with: the session's end, or `now` while live
    rows: tuple[AttendanceRow, ...]
    config_version: str
    verdict: Verdict

    def scored(self) -> list[ScoredSession]:
        """The roll-up inputs: one per contact row (invited no-shows included, staff never)."""
        return [
            ScoredSession(self.session.id, row.contact_id, self.session.kind, self.ended_at, row.score, row.attended)
            for row in self.rows
            if row.contact_id is not None and row.score is not None
        ]


TOO_SHORT = "too short to score"
OFF_SCHEDULE = "invited, but the session ran far from its scheduled time: not counted as a no-show"


@dataclass(frozen=True)
class Verdict:
    """Whether a session counts: `scored` (it ran long enough) and `on_schedule` (it ran at its time,
    so invitees who did not come are no-shows), with the numbers behind both."""

    scored: bool
    on_schedule: bool
    run_minutes: float
    needed_minutes: float
    note: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "on_schedule": self.on_schedule,
            "run_minutes": round(self.run_minutes, 2),
            "needed_minutes": round(self.needed_minutes, 2),
            "note": self.note,
        }


def judge_session(
    scheduled_start: datetime, scheduled_minutes: float, window: SessionWindow, ended: bool, config: EngagementConfig
) -> Verdict:
    """One odd session must not move an account.

    Scored only if it ran at least `min_scored_minutes` and `min_scored_share` of its scheduled length
    (a session still live is judged as scheduled). On schedule if it was live at some moment within
    `schedule_tolerance_minutes` of the scheduled start, or overlapped the scheduled window for at
    least `on_schedule_share` of it.
    """
    needed = max(config.min_scored_minutes, config.min_scored_share * scheduled_minutes)
    run = window.length_seconds / 60.0
    scored = not ended or run >= needed
    tolerance = timedelta(minutes=config.schedule_tolerance_minutes)
    live_at_start = window.start <= scheduled_start + tolerance and window.end >= scheduled_start - tolerance
    scheduled_end = scheduled_start + timedelta(minutes=scheduled_minutes)
    overlap = (min(window.end, scheduled_end) - max(window.start, scheduled_start)).total_seconds()
    on_schedule = live_at_start or overlap >= config.on_schedule_share * scheduled_minutes * 60.0
    if not scored:
        note: str | None = f"{TOO_SHORT}: it ran {run:.1f} minutes, {needed:g} needed"
    elif not on_schedule:
        note = "run far from its scheduled time: only those who came are scored"
    else:
        note = None
    return Verdict(scored, on_schedule, run, needed, note)


def attendance_report(
    session: SessionInfo,
    events: Sequence[LogEvent],
    invited: Mapping[str, Person],
    known: Mapping[str, Person],
    now: datetime,
    config: EngagementConfig,
) -> AttendanceReport:
    """One row per invited or present person.

    `invited` maps contact id -> person for every invitation; `known` names everybody else the log
    mentions (contacts by id, staff by participant id). An ended session is judged at its end, so the
    report and the scores do not depend on when they are computed.
    """
    at = session.ended_at or now
    window = session_window(events, session.starts_at, session.duration_minutes, at)
    present = derive_attendance(events, at)
    return report_from_attendance(session, events, window, present, invited, known, now, config)


def report_from_attendance(
    session: SessionInfo,
    events: Sequence[LogEvent],
    window: SessionWindow,
    present: Sequence[PersonAttendance],
    invited: Mapping[str, Person],
    known: Mapping[str, Person],
    now: datetime,
    config: EngagementConfig,
) -> AttendanceReport:
    """The report from an already derived attendance (which does not depend on the configuration, so
    a what-if derives it once and scores it under each configuration)."""
    ended = session.ended_at is not None or _ended(events)
    verdict = judge_session(session.starts_at, session.duration_minutes, window, ended, config)
    rows: list[AttendanceRow] = []
    seen: set[str] = set()
    for person in present:
        if person.contact_id is not None:
            seen.add(person.contact_id)
        rows.append(_present_row(session, person, window, invited, known, config, verdict))
    # Every no-show of a session scores the same: scored once, not once per invitee.
    counts = verdict.scored and verdict.on_schedule
    no_show = score_person(SessionMeasures(), session.kind, window.length_seconds, config) if counts else None
    for contact_id, who in invited.items():
        if contact_id not in seen:
            rows.append(_no_show_row(session, contact_id, who, no_show, verdict))
    rows.sort(key=lambda r: (r.contact_id is not None, r.name.casefold(), r.participant_id or "", r.contact_id or ""))
    end = session.ended_at or (window.end if ended else now)
    return AttendanceReport(session, window, end, tuple(rows), config.version, verdict)


def _ended(events: Iterable[LogEvent]) -> bool:
    return any(e.type.value == "session.ended" for e in events)


def _present_row(
    session: SessionInfo,
    person: PersonAttendance,
    window: SessionWindow,
    invited: Mapping[str, Person],
    known: Mapping[str, Person],
    config: EngagementConfig,
    verdict: Verdict,
) -> AttendanceRow:
    contact_id = person.contact_id
    who = invited.get(contact_id) if contact_id else None
    who = who or known.get(contact_id or person.participant_id)
    score = None
    components: dict[str, dict[str, float | None]] = {}
    attended = False
    note = None
    if contact_id is not None:
        result = score_person(person, session.kind, window.length_seconds, config)
        # A session too short to score still says who came (follow-up mail thanks them), with no score.
        attended = result.attended
        if verdict.scored:
            score, components = result.score, result.components_dict()
        else:
            note = TOO_SHORT
    return AttendanceRow(
        participant_id=person.participant_id,
        contact_id=contact_id,
        account_id=who.account_id if who else None,
        name=(who.name if who else "") or person.name,
        email=who.email if who else "",
        role=person.role or ("attendee" if contact_id else "staff"),
        invited=contact_id is not None and contact_id in invited,
        joined_at=person.joined_at,
        left_at=person.left_at,
        intervals=person.intervals,
        present_seconds=person.present_seconds,
        focused_seconds=person.focused_seconds,
        camera_seconds=person.camera_seconds,
        chat_messages=person.chat_messages,
        questions=person.questions,
        poll_answers=person.poll_answers,
        polls_open_while_present=person.polls_open_while_present,
        reactions=person.reactions,
        hand_raises=person.hand_raises,
        spoke_seconds=person.spoke_seconds,
        score=score,
        components=components,
        attended=attended,
        no_show=contact_id is not None and person.present_seconds <= 0 and verdict.on_schedule,
        note=note,
    )


def _no_show_row(
    session: SessionInfo,
    contact_id: str,
    who: Person,
    result: PersonScore | None,
    verdict: Verdict,
) -> AttendanceRow:
    """An invitee who never came: a no-show scoring 0 (`result`, the same for every no-show) if the session
    ran at its time and long enough; otherwise listed, unscored, with the reason."""
    note = None if result is not None else (TOO_SHORT if not verdict.scored else OFF_SCHEDULE)
    return AttendanceRow(
        participant_id=f"c_{contact_id}",
        contact_id=contact_id,
        account_id=who.account_id,
        name=who.name,
        email=who.email,
        role="attendee",
        invited=True,
        joined_at=None,
        left_at=None,
        intervals=(),
        present_seconds=0.0,
        focused_seconds=0.0,
        camera_seconds=0.0,
        chat_messages=0,
        questions=0,
        poll_answers=0,
        polls_open_while_present=0,
        reactions=0,
        hand_raises=0,
        score=result.score if result else None,
        components=result.components_dict() if result else {},
        attended=False,
        no_show=verdict.on_schedule,
        note=note,
    )


# --- CSV --------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "name",
    "email",
    "role",
    "contact_id",
    "account_id",
    "invited",
    "joined_at",
    "left_at",
    "intervals",
    "present_seconds",
    "focused_seconds",
    "camera_seconds",
    "chat_messages",
    "questions",
    "poll_answers",
    "reactions",
    "hand_raises",
    "score",
    "attended",
    "no_show",
    "replay_seconds",
    "watched_replay",
    "spoke_seconds",
)
# A spreadsheet runs a cell starting with one of these as a formula; names and emails are user input.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def intervals_text(intervals: Iterable[Interval]) -> str:
    """`start–end; start–end` (ISO times, an en dash between), one column for all of a person's visits."""
    return "; ".join(f"{a.isoformat()}–{b.isoformat()}" for a, b in intervals)


def report_csv(report: AttendanceReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        data = row.as_json()
        data["intervals"] = intervals_text(row.intervals)
        writer.writerow([_cell(data[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def csv_filename(session: SessionInfo) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", session.title.casefold()).strip("-")[:60] or "session"
    return f"attendance-{slug}-{session.starts_at:%Y-%m-%d}.csv"


# --- accounts ---------------------------------------------------------------------------------


def engagement_series(scores: Sequence[ScoredSession], now: datetime, config: EngagementConfig) -> list[dict[str, Any]]:
    """The account's engagement after each session it was invited to, and today: points for a chart."""
    times = sorted({s.ended_at for s in scores if s.ended_at <= now})
    if not times or times[-1] < now:
        times.append(now)
    points = []
    for at in times:
        value = account_engagement(scores, at, config)
        points.append({"date": at.isoformat(), "engagement": None if value is None else round(value, 2)})
    return points


def contributions(
    scores: Sequence[ScoredSession], now: datetime, config: EngagementConfig
) -> list[dict[str, Any]]:
    """Each score's part in the engagement at `now`: kind weight × decay, its share and its points."""
    past = sorted((s for s in scores if s.ended_at <= now), key=lambda s: (s.ended_at, s.session_id, s.contact_id))
    weights = []
    for s in past:
        kind_weight = max(0.0, config.kind_weights.get(str(s.kind), 1.0))
        weights.append((kind_weight, decay(age_days(s.ended_at, now), config.half_life_days)))
    total = math.fsum(k * d for k, d in weights)
    out = []
    for s, (kind_weight, factor) in zip(past, weights, strict=True):
        weight = kind_weight * factor
        share = weight / total if total > 0 else 0.0
        out.append(
            {
                "session_id": s.session_id,
                "contact_id": s.contact_id,
                "kind": s.kind,
                "ended_at": s.ended_at.isoformat(),
                "score": round(s.score, 2),
                "attended": s.attended,
                "age_days": round(age_days(s.ended_at, now), 2),
                "kind_weight": kind_weight,
                "decay": round(factor, 6),
                "weight": round(weight, 6),
                "share": round(share, 6),
                "contribution": round(share * min(100.0, max(0.0, s.score)), 4),
            }
        )
    return out


def explain(
    account: AccountSnapshot, scores: Sequence[ScoredSession], now: datetime, config: EngagementConfig
) -> dict[str, Any]:
    """Every input and rule behind the account's engagement, tier and phase, as of `now`.

    The stored values are what the last evaluation decided; `facts` are the same inputs recomputed at
    `now` (decay moves them daily), and `would_change` is what an evaluation now would do.
    """
    facts = gather_facts(account, scores, now, config)
    state = EngineState.from_json(account.engine_state)
    band = facts.band
    dry = evaluate(account, scores, now, config)
    early = account.phase in EARLY_PHASES
    establishment_window = within(facts.scores, now, config.establishment_window_days)
    active = [s for s in within(facts.scores, now, config.self_driving_days) if s.attended]
    return {
        "as_of": now.isoformat(),
        "config": {"version": config.version, "values": asdict(config)},
        "engagement": {
            "value": facts.engagement,
            "rule": (
                f"The time-decayed mean (half-life {config.half_life_days:g} days) of the contacts' session "
                f"scores over the sessions they were invited to (no-shows count as 0), weighted by kind "
                f"{config.kind_weights}."
            ),
            "half_life_days": config.half_life_days,
            "kind_weights": config.kind_weights,
            "sessions": contributions(scores, now, config),
        },
        "tier": {
            "value": account.tier.value,
            "source": account.tier_source.value,
            "override_expires_at": iso(account.tier_override_expires_at),
            "ltv": {
                "mrr": account.mrr,
                "gross_margin": config.gross_margin,
                "monthly_churn": config.monthly_churn,
                "value": round(facts.ltv, 2),
                "arithmetic": (
                    f"{account.mrr:,.2f} × {config.gross_margin:g} ÷ {config.monthly_churn:g} = {facts.ltv:,.2f}"
                ),
            },
            "bands": {"high": config.high_band, "low": config.low_band},
            "band": band.value,
            "raised_for_risk": state.at_risk,
            "engine_tier": (raise_tier(band) if state.at_risk else band).value,
            "rule": "The LTV band, raised one step while the account is at risk; a fall waits "
            f"{config.min_dwell_days:g} days after the last change, a rise is immediate.",
        },
        "at_risk": {
            "value": state.at_risk,
            "reason": state.at_risk_reason,
            "early_phase": early,
            "engagement": facts.engagement,
            "enter_below": config.at_risk_engagement,
            "exit_at": config.at_risk_engagement + config.hysteresis,
            "days_inactive": round(facts.days_inactive, 2),
            "inactivity_days": config.inactivity_days,
            "last_attended": None
            if facts.last_attended is None
            else {"session_id": facts.last_attended.session_id, "ended_at": facts.last_attended.ended_at.isoformat()},
            "recover_streak": state.recover_streak,
            "recover_evaluations": config.recover_evaluations,
            "rule": (
                f"At risk in onboarding or establishment with engagement below {config.at_risk_engagement:g}, "
                f"or in any phase with no attendance for {config.inactivity_days:g} days; lifted after "
                f"{config.recover_evaluations} evaluations in a row at {config.at_risk_engagement + config.hysteresis:g} "
                f"or more."
            ),
        },
        "phase": {
            "value": account.phase.value,
            "source": account.phase_source.value,
            "override_expires_at": iso(account.phase_override_expires_at),
            "next": _next_phase(account.phase),
            "rule": _phase_rule(account.phase, config),
            "inputs": {
                "welcome_seminars_attended": session_ids(
                    s for s in facts.scores if s.attended and s.kind == "welcome_seminar"
                ),
                "sessions_in_window": len(session_ids(establishment_window)),
                "window_days": config.establishment_window_days,
                "establishment_engagement": config.establishment_engagement,
                "min_sessions": config.establishment_min_sessions,
                "active_contacts": sorted({s.contact_id for s in active}),
                "self_driving_engagement": config.self_driving_engagement,
                "self_driving_days": config.self_driving_days,
                "min_contacts": config.self_driving_min_contacts,
                "regress_engagement": config.regress_engagement,
                "regress_days": config.regress_days,
            },
            "clocks": {
                "phase_changed_at": iso(state.phase_changed_at),
                "tier_changed_at": iso(state.tier_changed_at),
                "below_regress_since": iso(state.below_regress_since),
                "days_below_regress": _days(state.below_regress_since, now),
                "above_self_driving_since": iso(state.above_self_driving_since),
                "days_above_self_driving": _days(state.above_self_driving_since, now),
                "last_evaluated_at": iso(state.last_evaluated_at),
                "min_dwell_days": config.min_dwell_days,
            },
        },
        "health": {"value": account.health.value, "healthy_from": config.healthy_engagement},
        "would_change": [asdict(c) for c in dry.changes],
    }


def _days(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round(age_days(at, now), 2)


def _next_phase(phase: Phase) -> str | None:
    index = PHASE_ORDER.index(phase)
    return PHASE_ORDER[index + 1].value if index + 1 < len(PHASE_ORDER) else None


def _phase_rule(phase: Phase, config: EngagementConfig) -> str:
    back = (
        f" Back one phase after {config.regress_days:g} days below {config.regress_engagement:g}."
        if phase is not Phase.ONBOARDING
        else ""
    )
    rules = {
        Phase.ONBOARDING: "Onboarding ends when a contact attends a welcome seminar.",
        Phase.ESTABLISHMENT: (
            f"Establishment ends at engagement {config.establishment_engagement:g} or more over at least "
            f"{config.establishment_min_sessions} sessions in {config.establishment_window_days:g} days."
        ),
        Phase.UTILIZATION: (
            f"Self-driving after engagement {config.self_driving_engagement:g} or more for "
            f"{config.self_driving_days:g} days with at least {config.self_driving_min_contacts} active contacts."
        ),
        Phase.SELF_DRIVING: "The last phase.",
    }
    return rules[phase] + back


# --- in words ----------------------------------------------------------------------------------


def explain_in_words(
    scores: Sequence[ScoredSession],
    now: datetime,
    config: EngagementConfig,
    names: Mapping[str, str],
    titles: Mapping[str, str],
    unscored: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The account's engagement as sentences a CSM can read: the number (or "not enough data"), then each
    session's part in it, newest first (who scored what, a no-show counting 0, its weight), then the
    sessions that did not count and why. `names`: contact id -> name; `titles`: session id -> title;
    `unscored`: (title, why) of the account's sessions that were kept but not scored."""
    history = ScoreHistory(scores, config)
    value = history.engagement(now)
    evidence = history.sessions_within(now, config.half_life_days)
    lines = []
    if value is None:
        lines.append(
            f"Not enough data: {evidence} scored session{'s' if evidence != 1 else ''} in the last "
            f"{config.half_life_days:g} days (at least {config.min_evidence_sessions} needed), so engagement is not "
            f"judged and moves neither tier, phase nor risk (attending a welcome seminar still ends onboarding)."
        )
    else:
        lines.append(
            f"Engagement is {value:.0f}: the mean of the contacts' session scores, each weighted by the kind of "
            f"session and halved every {config.half_life_days:g} days; an invited contact who did not come counts 0."
        )
    for part in reversed(contributions(scores, now, config)):
        who = names.get(part["contact_id"], "A contact")
        title = titles.get(part["session_id"], "a session")
        when = part["ended_at"][:10]
        did = f"scored {part['score']:.0f}" if part["attended"] or part["score"] > 0 else "did not come (counts 0)"
        lines.append(f"{who} {did} in “{title}” on {when}; it carries {part['share'] * 100:.0f} % of the weight.")
    for title, why in unscored:
        lines.append(f"“{title}” does not count: {why}.")
    return lines
