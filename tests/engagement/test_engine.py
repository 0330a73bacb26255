"""The tier and phase engine: rules, stability and overrides."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from live.accounts.model import Health, Phase, Source, Tier
from live.engagement.attendance import derive_attendance, session_window
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot, Evaluation, evaluate
from live.engagement.model import ScoredSession, SessionMeasures, score_person
from live.events.model import EventType, LogEvent
from live.sessions.model import SessionKind

# These tests are about the model's other rules; the evidence rules (one odd session must not move an
# account) are relaxed here and tested with the defaults in test_trust.py.
CONFIG = EngagementConfig().with_overrides(
    {"min_scored_minutes": 0, "min_scored_share": 0, "min_evidence_sessions": 1, "inactivity_min_invitations": 0}
)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TECH_MRR = 500.0  # LTV 20,000: tech
LOW_MRR = 2_000.0  # LTV 80,000: low
HIGH_MRR = 20_000.0  # LTV 800,000: high


def day(n: float) -> datetime:
    return NOW + timedelta(days=n)


def account(**changes: object) -> AccountSnapshot:
    base = AccountSnapshot(
        id="acme", mrr=TECH_MRR, signed_at=day(-1), tier=Tier.TECH, phase=Phase.ONBOARDING, engine_state={}
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def scored(
    score: float,
    on: float = 0,
    kind: str = "webinar",
    session: str | None = None,
    contact: str = "c1",
    attended: bool | None = None,
) -> ScoredSession:
    return ScoredSession(
        session_id=session or f"{kind}-{on:g}-{contact}",
        contact_id=contact,
        kind=kind,
        ended_at=day(on),
        score=score,
        attended=score >= 40 if attended is None else attended,
    )


def carry(snapshot: AccountSnapshot, result: Evaluation) -> AccountSnapshot:
    """What the store would save: the next evaluation starts from this one's outcome."""
    return replace(
        snapshot,
        tier=result.tier,
        tier_source=result.tier_source,
        phase=result.phase,
        phase_source=result.phase_source,
        health=result.health,
        engine_state=result.engine_state,
    )


def run(
    snapshot: AccountSnapshot, scores: list[ScoredSession], days: list[float]
) -> tuple[AccountSnapshot, list[Evaluation]]:
    results = []
    for n in days:
        result = evaluate(snapshot, scores, day(n), CONFIG)
        results.append(result)
        snapshot = carry(snapshot, result)
    return snapshot, results


def rules(result: Evaluation) -> dict[str, str]:
    return {change.field: change.rule for change in result.changes}


# --- the DESIGN scenario, from the event log up -----------------------------------------------------


def welcome_seminar_log(contact_attends: bool) -> list[LogEvent]:
    start = day(0) - timedelta(hours=1)

    def ev(kind: EventType, minute: float, who: str | None = None, **data: object) -> LogEvent:
        return LogEvent("ws1", kind, start + timedelta(minutes=minute), who, dict(data))

    log = [
        ev(EventType.JOINED, 0, "u_host", sid="h", role="host", name="Hana", user_id="host"),
        ev(EventType.SESSION_STARTED, 0),
        ev(EventType.POLL_OPENED, 20, poll_id="p1"),
        ev(EventType.POLL_CLOSED, 25, poll_id="p1"),
        ev(EventType.SESSION_ENDED, 60),
    ]
    if contact_attends:
        log += [
            ev(EventType.JOINED, 1, "c_ann", sid="a", role="attendee", name="Ann", contact_id="ann"),
            ev(EventType.CHAT_MESSAGE, 10, "c_ann", id="m1", text="Hello!"),
            ev(EventType.CHAT_MESSAGE, 30, "c_ann", id="m2", text="Thanks, that helps"),
            ev(EventType.POLL_VOTED, 21, "c_ann", poll_id="p1", choices=[1]),
            ev(EventType.LEFT, 59, "c_ann", sid="a"),
        ]
    return log


def score_welcome_seminar(contact_attends: bool) -> ScoredSession:
    """What the edge does when a session ends: window, attendance rows, scores (no-shows too)."""
    log = welcome_seminar_log(contact_attends)
    window = session_window(log, scheduled_start=day(0) - timedelta(hours=1), scheduled_minutes=60, now=day(0))
    rows = {row.contact_id: row for row in derive_attendance(log, day(0))}
    measures = rows.get("ann") or SessionMeasures()
    result = score_person(measures, SessionKind.WELCOME_SEMINAR, window.length_seconds, CONFIG)
    return ScoredSession("ws1", "ann", SessionKind.WELCOME_SEMINAR, window.end, result.score, result.attended)


def test_a_new_account_whose_contact_attends_the_welcome_seminar_moves_to_establishment() -> None:
    seminar = score_welcome_seminar(contact_attends=True)
    assert seminar.attended and seminar.score > 80
    result = evaluate(account(), [seminar], day(0), CONFIG)
    assert result.phase is Phase.ESTABLISHMENT
    assert result.tier is Tier.TECH
    assert not result.at_risk
    assert result.health is Health.HEALTHY
    phase_change = next(c for c in result.changes if c.field == "phase")
    assert (phase_change.old, phase_change.new) == ("onboarding", "establishment")
    assert phase_change.rule == "welcome_seminar_attended"
    assert "welcome seminar" in phase_change.reason
    assert phase_change.evidence == ["ws1"]
    assert phase_change.config_version == CONFIG.version


def test_a_new_account_whose_contact_is_a_no_show_is_at_risk_and_raised_one_tier() -> None:
    seminar = score_welcome_seminar(contact_attends=False)
    assert seminar.score == 0 and not seminar.attended
    result = evaluate(account(), [seminar], day(0), CONFIG)
    assert result.phase is Phase.ONBOARDING
    assert result.at_risk
    assert result.health is Health.AT_RISK
    assert result.tier is Tier.LOW
    assert rules(result) == {"tier": "at_risk_escalation", "health": "at_risk_low_engagement"}
    health = next(c for c in result.changes if c.field == "health")
    assert "0" in health.reason and "35" in health.reason
    assert health.evidence == ["ws1"]


# --- tier -------------------------------------------------------------------------------------------


def test_the_tier_follows_the_ltv_band_and_a_rise_is_immediate() -> None:
    state = {"tier_changed_at": day(-1).isoformat()}
    result = evaluate(account(mrr=HIGH_MRR, engine_state=state), [], day(0), CONFIG)
    assert result.tier is Tier.HIGH
    assert result.ltv == 800_000
    assert rules(result)["tier"] == "ltv_band"
    assert "800,000" in result.changes[0].reason


def test_a_tier_fall_waits_for_the_dwell_time() -> None:
    state = {"tier_changed_at": day(-5).isoformat()}
    held = evaluate(account(tier=Tier.LOW, engine_state=state), [], day(0), CONFIG)
    assert held.tier is Tier.LOW and held.changes == []
    later = evaluate(account(tier=Tier.LOW, engine_state=state), [], day(10), CONFIG)
    assert later.tier is Tier.TECH
    assert rules(later) == {"tier": "ltv_band"}


def test_a_raised_tier_returns_to_its_band_once_recovered_and_dwelled() -> None:
    _, results = run(
        account(signed_at=day(-20)),
        [scored(0, on=-1, kind="welcome_seminar"), scored(90, on=20, session="w2"), scored(95, on=21, session="w3")],
        [0, 22, 23],
    )
    assert results[0].tier is Tier.LOW and results[0].at_risk
    assert results[1].at_risk  # one good evaluation is not enough
    assert not results[2].at_risk
    assert results[2].tier is Tier.TECH
    assert rules(results[2])["tier"] == "at_risk_lifted"


# --- at risk ---------------------------------------------------------------------------------------


def test_at_risk_is_lifted_only_after_two_evaluations_in_a_row_above_the_exit_threshold() -> None:
    early = account(phase=Phase.ESTABLISHMENT, engine_state={"at_risk": True}, health=Health.AT_RISK)
    at_37 = [scored(37, on=-1)]
    at_45 = [scored(45, on=-1)]
    _, results = run(early, at_45, [0])
    assert results[0].at_risk
    snapshot, results = run(early, at_45, [0, 1])
    assert not results[1].at_risk
    assert rules(results[1])["health"] == "at_risk_lifted"
    # A dip into the band between 35 and 40 starts the count again.
    snapshot = carry(early, evaluate(early, at_45, day(0), CONFIG))
    snapshot = carry(snapshot, evaluate(snapshot, at_37, day(1), CONFIG))
    assert snapshot.health is Health.AT_RISK
    assert evaluate(snapshot, at_45, day(2), CONFIG).at_risk


def test_two_evaluations_at_the_same_instant_count_once_toward_recovery() -> None:
    early = account(phase=Phase.ESTABLISHMENT, engine_state={"at_risk": True, "last_evaluated_at": day(0).isoformat()})
    _, results = run(early, [scored(50, on=-1)], [1, 1])
    assert results[1].at_risk


def test_no_attendance_for_45_days_puts_any_account_at_risk() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-400), tier=Tier.TECH)
    scores = [scored(90, on=-50, session="last", attended=True), scored(0, on=-10, session="missed")]
    result = evaluate(utilization, scores, day(0), CONFIG)
    assert result.at_risk
    assert rules(result) == {"tier": "at_risk_escalation", "health": "at_risk_inactivity"}
    assert next(c for c in result.changes if c.field == "health").evidence == ["last"]


def test_low_engagement_in_utilization_is_not_at_risk() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-400))
    assert not evaluate(utilization, [scored(20, on=-1, attended=True)], day(0), CONFIG).at_risk


# --- phase -----------------------------------------------------------------------------------------


def test_attending_a_welcome_seminar_is_not_held_back_by_the_dwell_time() -> None:
    regressed = account(engine_state={"phase_changed_at": day(-1).isoformat()})
    seminar = scored(85, on=0, kind="welcome_seminar")
    assert evaluate(regressed, [seminar], day(0), CONFIG).phase is Phase.ESTABLISHMENT


def test_a_seminar_from_before_a_regression_does_not_end_onboarding_again() -> None:
    regressed = account(engine_state={"phase_changed_at": day(-1).isoformat()})
    seminar = scored(85, on=-10, kind="welcome_seminar")
    assert evaluate(regressed, [seminar], day(0), CONFIG).phase is Phase.ONBOARDING


def establishment(**changes: object) -> AccountSnapshot:
    return account(phase=Phase.ESTABLISHMENT, engine_state={"phase_changed_at": day(-20).isoformat()}, **changes)


def test_establishment_moves_to_utilization_at_60_over_three_sessions() -> None:
    scores = [scored(70, on=-30), scored(65, on=-20), scored(62, on=-1)]
    result = evaluate(establishment(), scores, day(0), CONFIG)
    assert result.phase is Phase.UTILIZATION
    change = result.changes[0]
    assert change.rule == "establishment_engagement"
    assert change.numbers["sessions"] == 3
    assert len(change.evidence) == 3
    assert "over 3 sessions" in change.reason


def test_establishment_needs_three_sessions_within_60_days() -> None:
    scores = [scored(70, on=-90), scored(65, on=-20), scored(62, on=-1)]
    assert evaluate(establishment(), scores, day(0), CONFIG).phase is Phase.ESTABLISHMENT


def test_establishment_waits_for_the_dwell_time() -> None:
    fresh = account(phase=Phase.ESTABLISHMENT, engine_state={"phase_changed_at": day(-3).isoformat()})
    scores = [scored(70, on=-3), scored(65, on=-2), scored(62, on=-1)]
    assert evaluate(fresh, scores, day(0), CONFIG).phase is Phase.ESTABLISHMENT
    assert evaluate(fresh, scores, day(12), CONFIG).phase is Phase.UTILIZATION


def steady(score: float, contacts: tuple[str, ...], start: float, stop: float) -> list[ScoredSession]:
    """A session every ten days, attended by each contact with this score."""
    return [
        scored(score, on=n, contact=c, session=f"s{n}", attended=True)
        for n in range(int(start), int(stop), 10)
        for c in contacts
    ]


def test_utilization_becomes_self_driving_after_90_days_at_75_with_two_active_contacts() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-200))
    scores = steady(85, ("c1", "c2"), -30, 200)
    _, results = run(utilization, scores, [float(n) for n in range(0, 100, 7)])
    phases = [r.phase for r in results]
    assert Phase.SELF_DRIVING not in phases[:13]  # day 84: not yet 90 days
    assert phases[13] is Phase.SELF_DRIVING  # day 91
    change = results[13].changes[0]
    assert change.rule == "self_driving"
    assert change.numbers["active_contacts"] == 2


def test_one_active_contact_is_not_enough_for_self_driving() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-200))
    _, results = run(utilization, steady(85, ("c1",), -30, 200), [0, 50, 100])
    assert results[-1].phase is Phase.UTILIZATION


def test_a_dip_between_70_and_75_does_not_reset_the_self_driving_clock() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-200))
    scores = steady(85, ("c1", "c2"), -30, 200)
    dip = [scored(20, on=44.5, contact=c, session="dip", attended=True) for c in ("c1", "c2")]
    _, results = run(utilization, scores + dip, [0, 45, 95])
    assert 70 <= (results[1].engagement or 0) < 75
    assert results[-1].phase is Phase.SELF_DRIVING


def test_thirty_days_below_35_moves_an_account_back_one_phase() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-200), engine_state={})
    scores = steady(20, ("c1",), -60, 60)
    _, results = run(utilization, scores, [0, 10, 20, 29, 30])
    assert [r.phase for r in results[:4]] == [Phase.UTILIZATION] * 4
    assert results[4].phase is Phase.ESTABLISHMENT
    change = next(c for c in results[4].changes if c.field == "phase")
    assert change.rule == "regression"
    assert "below 35 for 30 days" in change.reason


def test_engagement_back_at_40_resets_the_regression_clock() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-200))
    low = steady(20, ("c1",), -60, 60)
    recovery = [scored(100, on=14.9, session="good", attended=True)] * 3
    _, results = run(utilization, low + recovery, [0, 15, 35])
    assert (results[1].engagement or 0) >= 40
    assert results[-1].phase is Phase.UTILIZATION


# --- overrides -------------------------------------------------------------------------------------


def test_a_manual_tier_is_kept_until_its_expiry_then_the_engine_takes_over() -> None:
    pinned = account(tier=Tier.HIGH, tier_source=Source.MANUAL, tier_override_expires_at=day(10))
    before = evaluate(pinned, [], day(5), CONFIG)
    assert (before.tier, before.tier_source, before.changes) == (Tier.HIGH, Source.MANUAL, [])
    after = evaluate(pinned, [], day(10), CONFIG)
    assert (after.tier, after.tier_source) == (Tier.TECH, Source.ENGINE)
    assert rules(after) == {"tier": "override_expired"}
    assert "override expired" in after.changes[0].reason


def test_a_manual_phase_without_expiry_is_never_changed() -> None:
    pinned = account(phase=Phase.ONBOARDING, phase_source=Source.MANUAL)
    result = evaluate(pinned, [scored(90, kind="welcome_seminar")], day(400), CONFIG)
    assert (result.phase, result.phase_source) == (Phase.ONBOARDING, Source.MANUAL)


def test_an_expired_override_that_the_engine_agrees_with_changes_only_the_source() -> None:
    pinned = account(tier=Tier.TECH, tier_source=Source.MANUAL, tier_override_expires_at=day(-1))
    result = evaluate(pinned, [], day(0), CONFIG)
    assert (result.tier, result.tier_source, result.changes) == (Tier.TECH, Source.ENGINE, [])


# --- health and state ------------------------------------------------------------------------------


def test_health_is_healthy_from_60_and_stays_healthy_down_to_55() -> None:
    utilization = account(phase=Phase.UTILIZATION, signed_at=day(-10))
    at_57 = [scored(57, on=-1)]
    assert evaluate(utilization, at_57, day(0), CONFIG).health is Health.NEUTRAL
    assert evaluate(replace(utilization, health=Health.HEALTHY), at_57, day(0), CONFIG).health is Health.HEALTHY
    result = evaluate(utilization, [scored(61, on=-1)], day(0), CONFIG)
    assert result.health is Health.HEALTHY
    assert rules(result) == {"health": "health_band"}


def test_the_engine_state_is_plain_json_and_garbage_in_it_is_ignored() -> None:
    garbage = {"tier_changed_at": "yesterday", "recover_streak": "two", "at_risk": "yes", "extra": [1]}
    result = evaluate(account(engine_state=garbage), [scored(80, kind="welcome_seminar")], day(0), CONFIG)
    assert json.loads(json.dumps(result.engine_state)) == result.engine_state
    assert result.phase is Phase.ESTABLISHMENT


# --- properties ------------------------------------------------------------------------------------

phases = st.sampled_from(list(Phase))
tiers = st.sampled_from(list(Tier))


@st.composite
def score_lists(draw: st.DrawFn) -> list[ScoredSession]:
    rows = draw(
        st.lists(
            st.tuples(
                st.floats(min_value=0, max_value=100),
                st.integers(min_value=-200, max_value=200),
                st.sampled_from(list(SessionKind)),
                st.sampled_from(["c1", "c2", "c3"]),
            ),
            max_size=15,
        )
    )
    return [scored(s, on=d, kind=k, contact=c, session=f"s{i}") for i, (s, d, k, c) in enumerate(rows)]


@settings(max_examples=150, deadline=None)
@given(
    score_lists(),
    tiers,
    phases,
    st.floats(min_value=0, max_value=50_000),
    st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=8),
    st.booleans(),
)
def test_an_override_is_never_changed_before_its_expiry(
    scores: list[ScoredSession], tier: Tier, phase: Phase, mrr: float, days: list[int], expires: bool
) -> None:
    pinned = account(
        mrr=mrr,
        tier=tier,
        tier_source=Source.MANUAL,
        tier_override_expires_at=day(301) if expires else None,
        phase=phase,
        phase_source=Source.MANUAL,
        phase_override_expires_at=day(301) if expires else None,
        signed_at=day(-300),
    )
    _, results = run(pinned, scores, [float(n) for n in sorted(days)])
    for result in results:
        assert (result.tier, result.tier_source) == (tier, Source.MANUAL)
        assert (result.phase, result.phase_source) == (phase, Source.MANUAL)
        assert all(change.field == "health" for change in result.changes)


@settings(max_examples=150, deadline=None)
@given(
    score_lists(),
    phases,
    st.floats(min_value=0, max_value=50_000),
    st.lists(st.integers(min_value=-100, max_value=300), min_size=1, max_size=10),
    st.randoms(use_true_random=False),
)
def test_evaluating_over_a_sequence_of_dates_is_deterministic_whatever_the_order_of_scores(
    scores: list[ScoredSession], phase: Phase, mrr: float, days: list[int], rnd: random.Random
) -> None:
    start = account(mrr=mrr, phase=phase, signed_at=day(-300))
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    dates = [float(n) for n in sorted(days)]
    first_end, first = run(start, scores, dates)
    second_end, second = run(start, shuffled, dates)
    assert first == second
    assert first_end == second_end
    for result in first:
        assert (result.health is Health.AT_RISK) == result.at_risk
        assert all(change.old != change.new for change in result.changes)
