"""The tier and phase engine: from an account and its contacts' session scores to tier, phase and
health, with every change explained (rule, reason, numbers, evidence, configuration version).

Stability, the way monitoring systems avoid flapping:
- **Enter at the threshold, leave only past the margin.** A state is entered where DESIGN puts its
  threshold and left only once engagement is `hysteresis` points back past it on the other side:
  at risk below 35, lifted at 40 or more; the 30-day regression clock starts below 35 and is reset
  only at 40 or more; the 90-day self-driving clock starts at 75 and is reset only below 70.
- **Minimum dwell.** Two automatic changes of one field are at least `min_dwell_days` apart, except
  moves toward more attention: the at-risk flag and the tier rise it causes are immediate (degrade
  fast), and attending a welcome seminar ends onboarding at once (an event, not a threshold).
- **Recover slow.** The at-risk flag is lifted after `recover_evaluations` evaluations in a row
  (at distinct, increasing times) past the exit threshold.
- **Overrides.** A manual tier or phase is never changed until its expiry passes (no expiry: never);
  then the engine takes over at once, recording `override_expired` if the value changes.

`engine_state` is the engine's JSON memory between evaluations; a missing or unreadable key is taken
as "never happened", so an empty dict is a valid state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from live.accounts.model import (
    PHASE_ORDER,
    TIER_ORDER,
    Health,
    Phase,
    Source,
    Tier,
    lifetime_value,
    raise_tier,
    tier_for_ltv,
)
from live.engagement.config import EngagementConfig
from live.engagement.frozen import quick_init
from live.engagement.model import ScoredSession, ScoreHistory, age_days, session_ids
from live.isotime import iso

JsonValue = float | int | str | bool | None
EARLY_PHASES = (Phase.ONBOARDING, Phase.ESTABLISHMENT)


@dataclass(frozen=True)
class AccountSnapshot:
    id: str
    mrr: float
    signed_at: datetime
    tier: Tier
    phase: Phase
    health: Health = Health.NEUTRAL
    tier_source: Source = Source.ENGINE
    tier_override_expires_at: datetime | None = None
    phase_source: Source = Source.ENGINE
    phase_override_expires_at: datetime | None = None
    # The JSON stored with the account, or (within a replay) the typed state itself.
    engine_state: Mapping[str, Any] | EngineState | None = None

    def but(self, **changes: Any) -> AccountSnapshot:
        """A copy with `changes` (see `EngineState.but`: a replay makes one per evaluation)."""
        copy = object.__new__(AccountSnapshot)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy


@dataclass(frozen=True)
class Change:
    field: str  # "tier", "phase" or "health"
    old: str
    new: str
    rule: str
    reason: str
    numbers: dict[str, JsonValue]
    evidence: list[str]
    config_version: str


@quick_init
@dataclass(frozen=True)
class Evaluation:
    tier: Tier
    tier_source: Source
    phase: Phase
    phase_source: Source
    health: Health
    at_risk: bool
    engagement: float | None
    ltv: float
    state: EngineState
    changes: list[Change]

    @property
    def engine_state(self) -> dict[str, Any]:
        """The state as the JSON stored with the account."""
        return self.state.to_json()


@dataclass(frozen=True)
class EngineState:
    """The typed view of `engine_state`."""

    tier_changed_at: datetime | None = None
    phase_changed_at: datetime | None = None
    tier_escalated: bool = False  # the tier is one step above its band because of the at-risk flag
    at_risk: bool = False
    at_risk_reason: str | None = None
    recover_streak: int = 0
    last_evaluated_at: datetime | None = None
    below_regress_since: datetime | None = None
    above_self_driving_since: datetime | None = None

    def but(self, **changes: Any) -> EngineState:
        """A copy with `changes`: `dataclasses.replace` without its per-call introspection, which was
        the largest single cost of replaying a year (hundreds of thousands of evaluations)."""
        copy = object.__new__(EngineState)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | EngineState | None) -> EngineState:
        if isinstance(data, EngineState):
            return data  # a replay carries the typed state from one evaluation to the next
        data = data or {}
        streak = data.get("recover_streak")
        reason = data.get("at_risk_reason")
        return cls(
            tier_changed_at=_parse_time(data.get("tier_changed_at")),
            phase_changed_at=_parse_time(data.get("phase_changed_at")),
            tier_escalated=data.get("tier_escalated") is True,
            at_risk=data.get("at_risk") is True,
            at_risk_reason=reason if isinstance(reason, str) else None,
            recover_streak=streak if isinstance(streak, int) and not isinstance(streak, bool) else 0,
            last_evaluated_at=_parse_time(data.get("last_evaluated_at")),
            below_regress_since=_parse_time(data.get("below_regress_since")),
            above_self_driving_since=_parse_time(data.get("above_self_driving_since")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tier_changed_at": iso(self.tier_changed_at),
            "phase_changed_at": iso(self.phase_changed_at),
            "tier_escalated": self.tier_escalated,
            "at_risk": self.at_risk,
            "at_risk_reason": self.at_risk_reason,
            "recover_streak": self.recover_streak,
            "last_evaluated_at": iso(self.last_evaluated_at),
            "below_regress_since": iso(self.below_regress_since),
            "above_self_driving_since": iso(self.above_self_driving_since),
        }


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@quick_init
@dataclass(frozen=True)
class Facts:
    """Everything the rules read, computed once per evaluation from scores up to `now`."""

    now: datetime
    engagement: float | None
    ltv: float
    band: Tier
    history: ScoreHistory
    last_attended: ScoredSession | None
    days_inactive: float
    # Distinct scored sessions the account's contacts were invited to in the inactivity window.
    invitations: int

    @property
    def scores(self) -> tuple[ScoredSession, ...]:
        """Every score up to `now`, oldest first."""
        return self.history.past(self.now)

    def within(self, days: float) -> tuple[ScoredSession, ...]:
        return self.history.within(self.now, days)


def gather_facts(
    account: AccountSnapshot,
    scores: Sequence[ScoredSession] | ScoreHistory,
    now: datetime,
    config: EngagementConfig,
) -> Facts:
    history = scores if isinstance(scores, ScoreHistory) else ScoreHistory(scores, config)
    last_attended = history.last_attended(now)
    # "No attendance for 45 days" counts from the signature for an account that never attended.
    since = max(account.signed_at, last_attended.ended_at) if last_attended else account.signed_at
    ltv = lifetime_value(account.mrr, config.gross_margin, config.monthly_churn)
    return Facts(
        now=now,
        engagement=history.engagement(now),
        ltv=ltv,
        band=tier_for_ltv(ltv, config.high_band, config.low_band),
        history=history,
        last_attended=last_attended,
        days_inactive=max(0.0, age_days(since, now)),
        invitations=history.sessions_within(now, config.inactivity_days),
    )


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _days_since(at: datetime | None, now: datetime) -> float:
    return age_days(at, now) if at is not None else float("inf")


def _override_holds(source: Source, expires_at: datetime | None, now: datetime) -> bool:
    return source is Source.MANUAL and (expires_at is None or now < expires_at)


# --- clocks -----------------------------------------------------------------------------------


def advance_clocks(
    state: EngineState, engagement: float | None, now: datetime, config: EngagementConfig
) -> EngineState:
    """Start or reset the regression and self-driving clocks (nothing to judge: leave them)."""
    if engagement is None:
        return state
    below = state.below_regress_since
    if engagement < config.regress_engagement:
        below = below or now
    elif engagement >= config.regress_engagement + config.hysteresis:
        below = None
    above = state.above_self_driving_since
    if engagement >= config.self_driving_engagement:
        above = above or now
    elif engagement < config.self_driving_engagement - config.hysteresis:
        above = None
    return state.but(below_regress_since=below, above_self_driving_since=above)


# --- phase ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A proposed change of one field, with its explanation."""

    new: str
    rule: str
    reason: str
    numbers: dict[str, JsonValue]
    evidence: list[str]
    immediate: bool = False  # not held back by the dwell time


def next_phase(phase: Phase, facts: Facts, state: EngineState, config: EngagementConfig) -> Move | None:
    """The one phase move the rules call for now, if any (regression first: degrade before praise)."""
    regression = regression_move(phase, facts, state, config)
    if regression is not None:
        return regression
    if phase is Phase.ONBOARDING:
        return welcome_seminar_move(facts, state)
    if phase is Phase.ESTABLISHMENT:
        return establishment_move(facts, config)
    if phase is Phase.UTILIZATION:
        return self_driving_move(facts, state, config)
    return None


def welcome_seminar_move(facts: Facts, state: EngineState) -> Move | None:
    """Onboarding ends when a contact attends a welcome seminar (since the account last entered
    onboarding, so a regressed account has to come back to one)."""
    first = facts.history.first_welcome_attended(state.phase_changed_at, facts.now)
    if first is None:
        return None
    reason = (
        f"A contact attended the welcome seminar of {first.ended_at:%Y-%m-%d} (score {first.score:.0f}), "
        f"so onboarding is complete and the account moves to establishment."
    )
    numbers: dict[str, JsonValue] = {"score": _rounded(first.score), "contact_id": first.contact_id}
    return Move(Phase.ESTABLISHMENT, "welcome_seminar_attended", reason, numbers, [first.session_id], True)


def establishment_move(facts: Facts, config: EngagementConfig) -> Move | None:
    engagement = facts.engagement
    if engagement is None or engagement < config.establishment_engagement:
        return None
    sessions = session_ids(facts.within(config.establishment_window_days))
    if len(sessions) < config.establishment_min_sessions:
        return None
    reason = (
        f"Engagement is {engagement:.0f} over {len(sessions)} sessions in the last "
        f"{config.establishment_window_days:.0f} days (needs {config.establishment_engagement:.0f} over at "
        f"least {config.establishment_min_sessions}), so the account moves to utilization."
    )
    numbers: dict[str, JsonValue] = {
        "engagement": _rounded(engagement),
        "sessions": len(sessions),
        "threshold": config.establishment_engagement,
        "min_sessions": config.establishment_min_sessions,
        "window_days": config.establishment_window_days,
    }
    return Move(Phase.UTILIZATION, "establishment_engagement", reason, numbers, sessions)


def self_driving_move(facts: Facts, state: EngineState, config: EngagementConfig) -> Move | None:
    if facts.engagement is None:
        return None  # not enough data: never a phase change
    days_above = _days_since(state.above_self_driving_since, facts.now)
    if state.above_self_driving_since is None or days_above < config.self_driving_days:
        return None
    attended = [s for s in facts.within(config.self_driving_days) if s.attended]
    contacts = sorted({s.contact_id for s in attended})
    if len(contacts) < config.self_driving_min_contacts:
        return None
    reason = (
        f"Engagement has stayed at {config.self_driving_engagement:.0f} or more for {days_above:.0f} days "
        f"(needs {config.self_driving_days:.0f}; now {_fmt(facts.engagement)}) with {len(contacts)} active "
        f"contacts (needs {config.self_driving_min_contacts}), so the account is self-driving."
    )
    numbers: dict[str, JsonValue] = {
        "engagement": _rounded(facts.engagement),
        "days_above": round(days_above, 1),
        "threshold": config.self_driving_engagement,
        "active_contacts": len(contacts),
        "min_contacts": config.self_driving_min_contacts,
    }
    return Move(Phase.SELF_DRIVING, "self_driving", reason, numbers, session_ids(attended))


def regression_move(phase: Phase, facts: Facts, state: EngineState, config: EngagementConfig) -> Move | None:
    if facts.engagement is None or state.below_regress_since is None or phase is Phase.ONBOARDING:
        return None  # not enough data (never a phase change), no clock running, or nowhere to go back to
    index = PHASE_ORDER.index(phase)
    days_below = _days_since(state.below_regress_since, facts.now)
    if index == 0 or days_below < config.regress_days:
        return None
    previous = PHASE_ORDER[index - 1]
    reason = (
        f"Engagement has been below {config.regress_engagement:.0f} for {days_below:.0f} days "
        f"(limit {config.regress_days:.0f}; now {_fmt(facts.engagement)}), so the account moves back "
        f"from {phase.value} to {previous.value}."
    )
    numbers: dict[str, JsonValue] = {
        "engagement": _rounded(facts.engagement),
        "days_below": round(days_below, 1),
        "threshold": config.regress_engagement,
    }
    evidence = session_ids(facts.within(config.regress_days))
    return Move(previous, "regression", reason, numbers, evidence)


def decide_phase(
    account: AccountSnapshot, facts: Facts, state: EngineState, config: EngagementConfig
) -> tuple[Phase, Source, EngineState, Change | None]:
    now = facts.now
    if _override_holds(account.phase_source, account.phase_override_expires_at, now):
        return account.phase, Source.MANUAL, state, None
    expired = account.phase_source is Source.MANUAL
    move = next_phase(account.phase, facts, state, config)
    dwell_ok = _days_since(state.phase_changed_at, now) >= config.min_dwell_days
    if move is None or not (move.immediate or dwell_ok or expired):
        return account.phase, Source.ENGINE, state, None
    state = state.but(phase_changed_at=now)
    if move.rule == "regression":
        # Another step back needs another full stretch below the line.
        state = state.but(below_regress_since=now)
    if expired:
        move = _after_override(move, "phase", account.phase_override_expires_at)
    return Phase(move.new), Source.ENGINE, state, _change("phase", account.phase, move, config)


def _after_override(move: Move, field_name: str, expired_at: datetime | None) -> Move:
    when = f" on {expired_at:%Y-%m-%d}" if expired_at else ""
    reason = f"The manual {field_name} override expired{when}; the engine takes over. {move.reason}"
    return replace(move, rule="override_expired", reason=reason, numbers={**move.numbers, "rule": move.rule})


def _change(field_name: str, old: str, move: Move, config: EngagementConfig) -> Change:
    return Change(
        field=field_name,
        old=str(old),
        new=str(move.new),
        rule=move.rule,
        reason=move.reason,
        numbers=move.numbers,
        evidence=move.evidence,
        config_version=config.version,
    )


# --- at risk ----------------------------------------------------------------------------------


def risk_signals(phase: Phase, facts: Facts, config: EngagementConfig, margin: float) -> tuple[bool, bool]:
    """(engagement too low for an early phase, no attendance for too long); `margin` moves the
    engagement line up for the exit test."""
    engagement = facts.engagement
    low = phase in EARLY_PHASES and engagement is not None and engagement < config.at_risk_engagement + margin
    return low, inactive_and_invited(facts, config)


def inactive_and_invited(facts: Facts, config: EngagementConfig) -> bool:
    """No attendance for `inactivity_days` counts only when there was something to attend: at least
    `inactivity_min_invitations` scored sessions in that window (otherwise the account is unengaged)."""
    return facts.days_inactive >= config.inactivity_days and facts.invitations >= config.inactivity_min_invitations


def unengaged(facts: Facts, config: EngagementConfig) -> bool:
    """Nobody attended for `inactivity_days`, and nobody was invited enough to call it a choice."""
    return facts.days_inactive >= config.inactivity_days and facts.invitations < config.inactivity_min_invitations


def decide_risk(
    phase: Phase, facts: Facts, state: EngineState, config: EngagementConfig
) -> tuple[EngineState, Move | None]:
    """Raise at once; lift after enough evaluations in a row past the exit threshold. The move, if
    any, is for the health field (at_risk on, or off to be replaced by the engagement band). Without
    enough data (engagement None) the flag stays as it is: one odd session never raises or lifts it."""
    if facts.engagement is None:
        return state, None
    low, inactive = risk_signals(phase, facts, config, margin=0.0)
    if low or inactive:
        cause = "low_engagement" if low else "inactivity"
        raised = not state.at_risk
        state = state.but(at_risk=True, at_risk_reason=cause, recover_streak=0)
        return state, (_risk_raised(cause, phase, facts, config) if raised else None)
    if not state.at_risk:
        return state, None
    low_exit, _ = risk_signals(phase, facts, config, margin=config.hysteresis)
    if low_exit:
        return state.but(recover_streak=0), None
    fresh = state.last_evaluated_at is None or facts.now > state.last_evaluated_at
    streak = state.recover_streak + (1 if fresh else 0)
    if streak < config.recover_evaluations:
        return state.but(recover_streak=streak), None
    state = state.but(at_risk=False, at_risk_reason=None, recover_streak=0)
    return state, _risk_lifted(streak, facts, config)


def _risk_raised(cause: str, phase: Phase, facts: Facts, config: EngagementConfig) -> Move:
    if cause == "low_engagement":
        reason = (
            f"Engagement is {_fmt(facts.engagement)}, below {config.at_risk_engagement:.0f} while in "
            f"{phase.value}: the account is at risk."
        )
        evidence = session_ids(facts.within(config.establishment_window_days))
    else:
        reason = (
            f"No contact has attended a session for {facts.days_inactive:.0f} days "
            f"(limit {config.inactivity_days:.0f}) although they were invited to {facts.invitations}: "
            f"the account is at risk."
        )
        evidence = [facts.last_attended.session_id] if facts.last_attended else []
    numbers: dict[str, JsonValue] = {
        "engagement": _rounded(facts.engagement),
        "threshold": config.at_risk_engagement,
        "days_inactive": round(facts.days_inactive, 1),
        "inactivity_days": config.inactivity_days,
        "invitations": facts.invitations,
    }
    return Move(Health.AT_RISK, f"at_risk_{cause}", reason, numbers, evidence, True)


def _risk_lifted(streak: int, facts: Facts, config: EngagementConfig) -> Move:
    exit_line = config.at_risk_engagement + config.hysteresis
    reason = (
        f"Engagement has been {exit_line:.0f} or more (or the account is past its early phases) with "
        f"recent attendance for {streak} evaluations in a row (now {_fmt(facts.engagement)}): "
        f"no longer at risk."
    )
    numbers: dict[str, JsonValue] = {
        "engagement": _rounded(facts.engagement),
        "exit_threshold": exit_line,
        "evaluations": streak,
        "days_inactive": round(facts.days_inactive, 1),
    }
    evidence = session_ids(facts.within(config.establishment_window_days))
    return Move("", "at_risk_lifted", reason, numbers, evidence, True)


# --- tier -------------------------------------------------------------------------------------


def decide_tier(
    account: AccountSnapshot, facts: Facts, state: EngineState, config: EngagementConfig
) -> tuple[Tier, Source, EngineState, Change | None]:
    now = facts.now
    if _override_holds(account.tier_source, account.tier_override_expires_at, now):
        return account.tier, Source.MANUAL, state, None
    expired = account.tier_source is Source.MANUAL
    target = raise_tier(facts.band) if state.at_risk else facts.band
    escalated = state.at_risk and target != facts.band
    if target == account.tier:
        return account.tier, Source.ENGINE, state.but(tier_escalated=escalated), None
    rising = TIER_ORDER.index(target) > TIER_ORDER.index(account.tier)
    dwell_ok = _days_since(state.tier_changed_at, now) >= config.min_dwell_days
    if not (rising or dwell_ok or expired):
        return account.tier, Source.ENGINE, state, None
    move = _tier_move(account, target, escalated, rising, facts, state, config)
    if expired:
        move = _after_override(move, "tier", account.tier_override_expires_at)
    state = state.but(tier_changed_at=now, tier_escalated=escalated)
    return target, Source.ENGINE, state, _change("tier", account.tier, move, config)


def _tier_move(
    account: AccountSnapshot,
    target: Tier,
    escalated: bool,
    rising: bool,
    facts: Facts,
    state: EngineState,
    config: EngagementConfig,
) -> Move:
    ltv = (
        f"LTV is {facts.ltv:,.0f} (MRR {account.mrr:,.0f} × margin {config.gross_margin:g} ÷ churn "
        f"{config.monthly_churn:g}), in the {facts.band.value} band"
    )
    if escalated and rising:
        rule = "at_risk_escalation"
        reason = f"The account is at risk, so its tier is raised one step to {target.value}. {ltv}."
    elif state.tier_escalated and not state.at_risk and not rising:
        rule = "at_risk_lifted"
        reason = f"The account is no longer at risk, so its tier returns to its band: {target.value}. {ltv}."
    else:
        rule = "ltv_band"
        reason = f"{ltv}, so the tier is {target.value}" + (" (raised one step: at risk)." if escalated else ".")
    numbers: dict[str, JsonValue] = {
        "ltv": round(facts.ltv, 2),
        "mrr": account.mrr,
        "gross_margin": config.gross_margin,
        "monthly_churn": config.monthly_churn,
        "band": facts.band.value,
        "at_risk": state.at_risk,
    }
    return Move(target, rule, reason, numbers, [])


# --- health -----------------------------------------------------------------------------------


def decide_health(
    previous: Health, at_risk: bool, engagement: float | None, config: EngagementConfig, idle: bool = False
) -> Health:
    """At risk wins; then unengaged (`idle`: nobody attended, nobody was invited enough); healthy from
    `healthy_engagement`, kept down to `hysteresis` below it; with not enough data, neutral."""
    if at_risk:
        return Health.AT_RISK
    if idle:
        return Health.UNENGAGED
    if engagement is None:
        return Health.NEUTRAL
    line = config.healthy_engagement - (config.hysteresis if previous is Health.HEALTHY else 0.0)
    return Health.HEALTHY if engagement >= line else Health.NEUTRAL


def _health_change(
    old: Health, new: Health, risk_move: Move | None, facts: Facts, config: EngagementConfig
) -> Change | None:
    if old == new:
        return None
    if risk_move is not None:
        return _change("health", old, replace(risk_move, new=new), config)
    if new is Health.UNENGAGED:
        reason = (
            f"No contact has attended a session for {facts.days_inactive:.0f} days, but they were invited to "
            f"only {facts.invitations} (at risk needs {config.inactivity_min_invitations}): unengaged, "
            f"not at risk. Invite them."
        )
    elif facts.engagement is None:
        reason = (
            f"Not enough data: fewer than {config.min_evidence_sessions} scored sessions in the last "
            f"{config.half_life_days:g} days, so engagement is not judged: {new.value}."
        )
    else:
        reason = (
            f"Engagement is {_fmt(facts.engagement)} (healthy from {config.healthy_engagement:.0f}, "
            f"kept down to {config.healthy_engagement - config.hysteresis:.0f}): {new.value}."
        )
    numbers: dict[str, JsonValue] = {
        "engagement": _rounded(facts.engagement),
        "threshold": config.healthy_engagement,
        "days_inactive": round(facts.days_inactive, 1),
        "invitations": facts.invitations,
    }
    evidence = session_ids(facts.within(config.establishment_window_days))
    return _change("health", old, Move(new, "health_band", reason, numbers, evidence), config)


# --- the evaluation ---------------------------------------------------------------------------


def evaluate(
    account: AccountSnapshot,
    scores: Sequence[ScoredSession] | ScoreHistory,
    now: datetime,
    config: EngagementConfig,
) -> Evaluation:
    """One evaluation of one account at `now`: pure, so replaying a sequence of dates over the same
    scores always gives the same history."""
    facts = gather_facts(account, scores, now, config)
    state = advance_clocks(EngineState.from_json(account.engine_state), facts.engagement, now, config)
    phase, phase_source, state, phase_change = decide_phase(account, facts, state, config)
    state, risk_move = decide_risk(phase, facts, state, config)
    tier, tier_source, state, tier_change = decide_tier(account, facts, state, config)
    idle = unengaged(facts, config)
    health = decide_health(account.health, state.at_risk, facts.engagement, config, idle)
    health_change = _health_change(account.health, health, risk_move, facts, config)
    last = state.last_evaluated_at
    state = state.but(last_evaluated_at=now if last is None else max(last, now))
    changes = [c for c in (phase_change, tier_change, health_change) if c is not None]
    return Evaluation(
        tier=tier,
        tier_source=tier_source,
        phase=phase,
        phase_source=phase_source,
        health=health,
        at_risk=state.at_risk,
        engagement=facts.engagement,
        ltv=facts.ltv,
        state=state,
        changes=changes,
    )


# --- quiet stretches --------------------------------------------------------------------------

# Boundaries are computed as datetimes while the rules compare float days: stop skipping this much
# before a boundary so that rounding can only make us evaluate more, never less.
QUIET_MARGIN = timedelta(seconds=1)


def quiet_until(
    before: AccountSnapshot, result: Evaluation, history: ScoreHistory, now: datetime, config: EngagementConfig
) -> datetime | None:
    """Until when evaluating again with no new score would give exactly this evaluation (None: do not skip).

    Only after a *quiet* evaluation: no change, the same sources, and an engine state that only moved
    its `last_evaluated_at` (so a re-evaluation with the same inputs is a fixed point). With the scores
    fixed, the rules then read time only through thresholds on elapsed time: a score leaving a window,
    the inactivity limit, the regression and self-driving clocks, the dwell time, an override's expiry.
    The earliest of those is the end of the quiet stretch; the engagement mean does not move in it
    (every weight decays alike, see `ScoreHistory`). A replay skips the daily ticks inside it.
    """
    old = EngineState.from_json(before.engine_state)
    state = result.state
    if (
        result.changes
        or result.tier_source is not before.tier_source
        or result.phase_source is not before.phase_source
        or result.health is not before.health
        or state.but(last_evaluated_at=old.last_evaluated_at) != old
    ):
        return None
    last = history.last_attended(now)
    since = max(before.signed_at, last.ended_at) if last else before.signed_at
    candidates = [
        # Counts of sessions in a window matter only where they cross their threshold.
        history.drops_below(now, config.half_life_days, config.min_evidence_sessions),
        since + history.span(config.inactivity_days),
        _plus(state.above_self_driving_since, config.self_driving_days),
        before.tier_override_expires_at,
        before.phase_override_expires_at,
        _plus(state.phase_changed_at, config.min_dwell_days),
    ]
    # The thresholds below matter only where a rule reads them; leaving out one that cannot change this
    # evaluation saves the evaluations at its crossing (a fifth of a year's). Each test uses only what
    # stays fixed through a quiet stretch (the phase, the tier, the state, the engagement), or a time
    # threshold that is itself a candidate and so re-decides at its crossing.
    if age_days(since, now) >= config.inactivity_days:
        # The invitations in the inactivity window count only once the inactivity limit is reached.
        candidates.append(history.drops_below(now, config.inactivity_days, config.inactivity_min_invitations))
    if result.phase is not Phase.ONBOARDING:
        candidates.append(_plus(state.below_regress_since, config.regress_days))  # no regression from the first
    band = tier_for_ltv(result.ltv, config.high_band, config.low_band)
    if (raise_tier(band) if state.at_risk else band) != result.tier:
        # The dwell time matters only to a tier move it holds back.
        candidates.append(_plus(state.tier_changed_at, config.min_dwell_days))
    engagement = result.engagement
    if result.phase is Phase.ESTABLISHMENT and engagement is not None and engagement >= config.establishment_engagement:
        candidates.append(
            history.drops_below(now, config.establishment_window_days, config.establishment_min_sessions)
        )
    above = state.above_self_driving_since
    if (
        result.phase is Phase.UTILIZATION
        and engagement is not None
        and above is not None
        and age_days(above, now) >= config.self_driving_days
    ):
        # Active contacts are counted over the self-driving window, once its clock has run: any session
        # leaving it may change them.
        candidates.append(history.next_expiry(now, config.self_driving_days))
    upcoming = [at for at in candidates if at is not None and at >= now]
    return (min(upcoming) - QUIET_MARGIN) if upcoming else datetime.max.replace(tzinfo=now.tzinfo)


def _plus(at: datetime | None, days: float) -> datetime | None:
    return None if at is None else at + timedelta(days=days)
