"""Scores a CS team can trust: one odd session never moves an account (the default configuration).

Too-short sessions are not scored, invitees of a session run far from its time are not no-shows,
"no attendance" needs invitations, and engagement needs evidence.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from live.accounts.model import Health, Phase, Tier
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot, EngineState, evaluate
from live.engagement.model import ScoredSession, ScoreHistory, account_engagement, decayed_mean
from live.engagement.recompute import account_timeline, replay
from live.engagement.report import Person, SessionInfo, attendance_report
from live.events.model import EventType, LogEvent

CONFIG = EngagementConfig()
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
SCHEDULED = NOW - timedelta(hours=2)
INVITED = {f"c{n}": Person(f"Person {n}", f"p{n}@acme.test", "acme") for n in range(3)}


def session_log(start: datetime, seconds: float, came: list[str]) -> list[LogEvent]:
    """A session started at `start`, run `seconds`, with the `came` contacts there the whole time."""
    end = start + timedelta(seconds=seconds)
    log = [
        LogEvent("s1", EventType.JOINED, start, "u_h", {"sid": "h", "role": "host", "name": "Hana"}),
        LogEvent("s1", EventType.SESSION_STARTED, start),
        LogEvent("s1", EventType.SESSION_ENDED, end),
    ]
    for contact in came:
        data = {"sid": contact, "role": "attendee", "name": contact, "contact_id": contact}
        log.append(LogEvent("s1", EventType.JOINED, start, f"c_{contact}", data))
        log.append(LogEvent("s1", EventType.LEFT, end, f"c_{contact}", {"sid": contact}))
    return log


def report_of(start: datetime, seconds: float, came: list[str], minutes: int = 60, config: EngagementConfig = CONFIG):
    info = SessionInfo("s1", "webinar", "Roadmap", SCHEDULED, minutes, "ended", start + timedelta(seconds=seconds))
    return attendance_report(info, session_log(start, seconds, came), INVITED, {}, NOW, config)


# --- too short to score -------------------------------------------------------------------------


def test_a_13_second_webinar_is_kept_and_reported_but_marked_too_short_to_score() -> None:
    report = report_of(SCHEDULED, 13, ["c0"])
    assert not report.verdict.scored
    assert report.verdict.note is not None and report.verdict.note.startswith("too short to score")
    assert report.scored() == []
    came = next(r for r in report.rows if r.contact_id == "c0")
    assert came.present_seconds == 13 and came.score is None and came.note == "too short to score"
    assert {r.contact_id for r in report.rows if r.contact_id} == {"c0", "c1", "c2"}


def test_a_session_must_run_a_quarter_of_its_scheduled_length_as_well_as_five_minutes() -> None:
    # 10 minutes of a 60-minute session: past 5 minutes, short of a quarter (15).
    assert not report_of(SCHEDULED, 600, ["c0"]).verdict.scored
    assert report_of(SCHEDULED, 900, ["c0"]).verdict.scored
    # A 12-minute session needs the 5 minutes, not its quarter (3).
    assert not report_of(SCHEDULED, 290, ["c0"], minutes=12).verdict.scored
    assert report_of(SCHEDULED, 300, ["c0"], minutes=12).verdict.scored


@settings(max_examples=60, deadline=None)
@given(seconds=st.floats(min_value=1, max_value=3 * 3600), minutes=st.integers(min_value=5, max_value=240))
def test_a_session_is_scored_exactly_when_it_ran_the_minimum(seconds: float, minutes: int) -> None:
    report = report_of(SCHEDULED, seconds, ["c0", "c1"], minutes=minutes)
    needed = max(CONFIG.min_scored_minutes, CONFIG.min_scored_share * minutes) * 60
    assert report.verdict.scored == (report.window.length_seconds >= needed)
    assert bool(report.scored()) == report.verdict.scored


# --- no-shows only for sessions run at their time -----------------------------------------------


def test_invitees_of_a_session_run_a_day_early_are_not_no_shows_and_only_those_who_came_are_scored() -> None:
    report = report_of(SCHEDULED - timedelta(days=1), 30 * 60, ["c0"])
    assert report.verdict.scored and not report.verdict.on_schedule
    rows = {r.contact_id: r for r in report.rows if r.contact_id}
    assert rows["c0"].score is not None and not rows["c0"].no_show
    assert not rows["c1"].no_show and rows["c1"].score is None and "not counted as a no-show" in (rows["c1"].note or "")
    assert [s.contact_id for s in report.scored()] == ["c0"]


def test_invitees_are_no_shows_when_the_session_was_live_at_its_scheduled_start_give_or_take_ten_minutes() -> None:
    for offset in (-10, 0, 10):
        report = report_of(SCHEDULED + timedelta(minutes=offset), 30 * 60, ["c0"])
        assert report.verdict.on_schedule, offset
        assert next(r for r in report.rows if r.contact_id == "c1").no_show
    late = report_of(SCHEDULED + timedelta(minutes=11), 20 * 60, ["c0"])
    assert not late.verdict.on_schedule


def test_a_late_start_that_still_covers_half_the_scheduled_window_counts_no_shows() -> None:
    report = report_of(SCHEDULED + timedelta(minutes=25), 40 * 60, ["c0"])
    assert report.verdict.on_schedule  # live from minute 25 to 60 of the scheduled hour: 35 of 60 minutes
    assert next(r for r in report.rows if r.contact_id == "c1").no_show


# --- engagement needs evidence -----------------------------------------------------------------


def scored(score: float, days_ago: float, session: str, attended: bool = False, kind: str = "webinar") -> ScoredSession:
    return ScoredSession(session, "c0", kind, NOW - timedelta(days=days_ago), score, attended)


def test_one_scored_session_is_not_enough_data() -> None:
    assert account_engagement([scored(91, 1, "s1", True)], NOW, CONFIG) is None
    two = [scored(91, 1, "s1", True), scored(0, 3, "s2")]
    assert account_engagement(two, NOW, CONFIG) is not None


def test_sessions_older_than_the_half_life_are_no_evidence() -> None:
    old = [scored(91, 31, "s1", True), scored(80, 40, "s2", True), scored(70, 2, "s3", True)]
    assert account_engagement(old, NOW, CONFIG) is None


def account(phase: Phase = Phase.ESTABLISHMENT, **changes: object) -> AccountSnapshot:
    base = AccountSnapshot(
        id="acme", mrr=500.0, signed_at=NOW - timedelta(days=400), tier=Tier.TECH, phase=phase, engine_state={}
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    phase=st.sampled_from(list(Phase)),
    score=st.floats(min_value=0, max_value=100),
    days_ago=st.floats(min_value=0, max_value=200),
    attended=st.booleans(),
    mrr=st.sampled_from([500.0, 2_000.0, 20_000.0]),
)
def test_a_single_webinar_never_changes_tier_phase_or_risk(
    phase: Phase, score: float, days_ago: float, attended: bool, mrr: float
) -> None:
    """Whatever its score and age, one webinar alone is not evidence: no tier, phase or risk change."""
    from live.accounts.model import lifetime_value, tier_for_ltv

    band = tier_for_ltv(lifetime_value(mrr, CONFIG.gross_margin, CONFIG.monthly_churn), CONFIG.high_band, CONFIG.low_band)
    before = account(phase, mrr=mrr, tier=band)
    result = evaluate(before, [scored(score, days_ago, "s1", attended)], NOW, CONFIG)
    assert result.engagement is None
    assert result.tier == before.tier and result.phase == before.phase and not result.at_risk
    assert [c.field for c in result.changes if c.field != "health" or c.new == Health.AT_RISK] == []


# --- "no attendance" needs invitations ---------------------------------------------------------


def test_an_account_nobody_invited_for_45_days_is_unengaged_not_at_risk() -> None:
    lonely = account(Phase.UTILIZATION)
    scores = [scored(80, 60, "s1", True), scored(70, 50, "s2", True)]
    result = evaluate(lonely, scores, NOW, CONFIG)
    assert not result.at_risk and result.tier == Tier.TECH
    assert result.health == Health.UNENGAGED
    [change] = result.changes
    assert change.field == "health" and "unengaged, not at risk" in change.reason


def test_no_attendance_with_two_invitations_in_the_window_is_at_risk() -> None:
    invited = account(Phase.UTILIZATION)
    scores = [scored(80, 60, "s1", True), scored(0, 20, "s2"), scored(0, 5, "s3")]
    result = evaluate(invited, scores, NOW, CONFIG)
    assert result.at_risk and result.health == Health.AT_RISK
    health = next(c for c in result.changes if c.field == "health")
    assert health.rule == "at_risk_inactivity" and health.numbers["invitations"] == 2


@settings(max_examples=80, deadline=None)
@given(
    invitations=st.integers(min_value=0, max_value=4),
    phase=st.sampled_from([Phase.UTILIZATION, Phase.SELF_DRIVING]),
)
def test_inactivity_puts_an_account_at_risk_exactly_when_it_was_invited_twice(invitations: int, phase: Phase) -> None:
    # Attended well 50 days ago; since then only invitations it did not take up (0 points).
    scores = [scored(90, 50, "old", True)] + [scored(0, 3 + 9 * n, f"s{n}") for n in range(invitations)]
    result = evaluate(account(phase), scores, NOW, CONFIG)
    enough_data = invitations >= CONFIG.min_evidence_sessions
    assert result.at_risk == (invitations >= CONFIG.inactivity_min_invitations and enough_data)
    if invitations < CONFIG.inactivity_min_invitations:
        assert result.health == Health.UNENGAGED


# --- the history as one timeline ---------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=300), st.booleans()),
        max_size=10,
    )
)
def test_the_indexed_history_gives_the_engagement_recomputed_from_scratch(rows: list[tuple[float, float, bool]]) -> None:
    scores = [scored(s, d, f"s{i}", a) for i, (s, d, a) in enumerate(rows)]
    history = ScoreHistory(scores, CONFIG)
    for days_back in (0, 10, 45, 200):
        at = NOW - timedelta(days=days_back)
        fast = history.engagement(at)
        slow = decayed_mean(scores, at, CONFIG) if history.has_evidence(at) else None
        assert (fast is None) == (slow is None)
        if fast is not None and slow is not None:
            assert abs(fast - slow) < 1e-6


def test_a_year_replayed_with_a_single_short_session_changes_nothing() -> None:
    """The replay path (nightly ticks and session ends) over an account with no scored sessions."""
    created = NOW - timedelta(days=365)
    start = account(Phase.ONBOARDING, signed_at=created)
    times = account_timeline(created, [], NOW)
    final, results = replay(start, [], times, CONFIG)
    assert final.tier == start.tier and final.phase == start.phase
    assert all(c.field == "health" and c.new == Health.UNENGAGED for _, r in results for c in r.changes)


RELAXED = CONFIG.with_overrides({"min_evidence_sessions": 1, "inactivity_min_invitations": 0})


@settings(max_examples=int(os.environ.get("LIVE_TEST_EXAMPLES", "60")), deadline=None)
@given(
    sessions=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=360),  # day of the year it ended
            st.sampled_from(["webinar", "welcome_seminar", "one_on_one"]),
            st.lists(st.tuples(st.floats(min_value=0, max_value=100), st.booleans()), min_size=1, max_size=3),
        ),
        max_size=25,
    ),
    phase=st.sampled_from(list(Phase)),
    mrr=st.sampled_from([500.0, 2_000.0, 20_000.0]),
    relaxed=st.booleans(),
)
def test_skipping_quiet_days_replays_exactly_the_same_history(
    sessions: list[tuple[int, str, list[tuple[float, bool]]]], phase: Phase, mrr: float, relaxed: bool
) -> None:
    config = RELAXED if relaxed else CONFIG
    created = NOW - timedelta(days=365)
    scores = [
        ScoredSession(f"s{n}", f"c{i}", kind, created + timedelta(days=day, hours=17), score, attended)
        for n, (day, kind, people) in enumerate(sessions)
        for i, (score, attended) in enumerate(people)
    ]
    start = account(phase, signed_at=created - timedelta(days=10), mrr=mrr)
    times = account_timeline(created, sorted({s.ended_at for s in scores}), NOW)
    fast, fast_results = replay(start, scores, times, config, skip_quiet=True)
    slow, slow_results = replay(start, scores, times, config, skip_quiet=False)
    assert [(at, r.changes) for at, r in fast_results if r.changes] == [
        (at, r.changes) for at, r in slow_results if r.changes
    ]
    assert (fast.tier, fast.phase, fast.health) == (slow.tier, slow.phase, slow.health)
    assert EngineState.from_json(fast.engine_state) == EngineState.from_json(slow.engine_state)
    assert len(fast_results) <= len(slow_results)


def test_a_quiet_year_is_replayed_in_a_few_dozen_evaluations_not_365() -> None:
    created = NOW - timedelta(days=365)
    scores = [scored(80, 200, "s1", True), scored(60, 190, "s2", True), scored(0, 20, "s3")]
    times = account_timeline(created, sorted({s.ended_at for s in scores}), NOW)
    _, results = replay(account(Phase.ESTABLISHMENT, signed_at=created), scores, times, CONFIG)
    assert len(times) == 368 and len(results) < 40


# --- in words -----------------------------------------------------------------------------------


def test_the_account_explains_in_words_why_engagement_is_45_while_alex_scored_91() -> None:
    from live.engagement.report import explain_in_words

    scores = [
        ScoredSession("s1", "alex", "webinar", NOW - timedelta(days=2), 91.0, True),
        ScoredSession("s1", "sam", "webinar", NOW - timedelta(days=2), 0.0, False),
        ScoredSession("s2", "alex", "webinar", NOW - timedelta(days=9), 90.0, True),
        ScoredSession("s2", "sam", "webinar", NOW - timedelta(days=9), 0.0, False),
    ]
    names, titles = {"alex": "Alex", "sam": "Sam"}, {"s1": "Roadmap", "s2": "Kick-off"}
    lines = explain_in_words(scores, NOW, CONFIG, names, titles, [("Dry run", "too short to score")])
    assert lines[0].startswith("Engagement is 45:") and "did not come counts 0" in lines[0]
    assert any(line.startswith("Alex scored 91 in “Roadmap”") for line in lines)
    assert any(line.startswith("Sam did not come (counts 0) in “Roadmap”") for line in lines)
    assert lines[-1] == "“Dry run” does not count: too short to score."
    lonely = explain_in_words(scores[:2], NOW, CONFIG, names, titles)
    assert lonely[0].startswith("Not enough data: 1 scored session in the last 30 days")
