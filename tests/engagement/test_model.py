"""Session scores and the account roll-up."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from live.engagement.config import EngagementConfig
from live.engagement.model import (
    ScoredSession,
    SessionMeasures,
    account_engagement,
    score_person,
    session_weight,
)
from live.sessions.model import SessionKind

# These tests are about the model's other rules; the evidence rules (one odd session must not move an
# account) are relaxed here and tested with the defaults in test_trust.py.
CONFIG = EngagementConfig().with_overrides(
    {"min_scored_minutes": 0, "min_scored_share": 0, "min_evidence_sessions": 1, "inactivity_min_invitations": 0}
)
HOUR = 3600.0
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def measures(**changes: Any) -> SessionMeasures:
    """A full hour, fully focused, camera on, one of one poll answered, quiet otherwise."""
    base = SessionMeasures(
        present_seconds=HOUR,
        focused_seconds=HOUR,
        camera_seconds=HOUR,
        poll_answers=1,
        polls_open_while_present=1,
    )
    return replace(base, **changes)


def scored(
    score: float, days_ago: float = 0, kind: str = "webinar", session: str = "s1", contact: str = "c1"
) -> ScoredSession:
    return ScoredSession(
        session_id=session,
        contact_id=contact,
        kind=kind,
        ended_at=NOW - timedelta(days=days_ago),
        score=score,
        attended=score > 0,
    )


def test_minutes_spoken_lift_conversation_like_chat_messages_and_a_weight_of_0_leaves_them_out() -> None:
    silent = score_person(measures(), SessionKind.WEBINAR, HOUR, CONFIG)
    speaker = score_person(measures(spoke_seconds=3 * 60), SessionKind.WEBINAR, HOUR, CONFIG)
    chatty = score_person(measures(chat_messages=3), SessionKind.WEBINAR, HOUR, CONFIG)
    # By default a minute on stage is a chat message: three minutes spoken lift the score as three messages do.
    assert speaker.score > silent.score
    assert speaker.components["conversation"].value == pytest.approx(1 - math.exp(-1))
    assert speaker.score == pytest.approx(chatty.score)
    unweighted = CONFIG.with_overrides({"speaking_weight": 0})
    assert score_person(measures(spoke_seconds=HOUR), SessionKind.WEBINAR, HOUR, unweighted).score == pytest.approx(
        score_person(measures(), SessionKind.WEBINAR, HOUR, unweighted).score
    )


def test_full_presence_attention_and_polls_with_no_talk_scores_75() -> None:
    result = score_person(measures(), SessionKind.WEBINAR, HOUR, CONFIG)
    assert result.score == pytest.approx(75)
    assert result.attended
    assert result.components["attendance"].points == pytest.approx(40)
    assert result.components["conversation"].points == 0
    assert result.config_version == CONFIG.version


def test_conversation_saturates_and_questions_count_double() -> None:
    result = score_person(measures(chat_messages=1, questions=1), SessionKind.WEBINAR, HOUR, CONFIG)
    conversation = result.components["conversation"]
    assert conversation.value == pytest.approx(1 - math.exp(-1))
    assert conversation.points == pytest.approx(15 * (1 - math.exp(-1)))


def test_half_the_session_is_attended_and_less_is_not() -> None:
    assert score_person(measures(present_seconds=HOUR / 2), "webinar", HOUR, CONFIG).attended
    assert not score_person(measures(present_seconds=HOUR / 2 - 1), "webinar", HOUR, CONFIG).attended


def test_attendance_is_capped_at_the_session_length() -> None:
    result = score_person(measures(present_seconds=2 * HOUR), "webinar", HOUR, CONFIG)
    assert result.components["attendance"].value == 1


def test_an_invited_no_show_scores_zero_and_did_not_attend() -> None:
    result = score_person(SessionMeasures(), SessionKind.WELCOME_SEMINAR, HOUR, CONFIG)
    assert result.score == 0
    assert not result.attended


def test_without_polls_while_present_the_polls_weight_is_shared_out() -> None:
    result = score_person(measures(poll_answers=0, polls_open_while_present=0), "webinar", HOUR, CONFIG)
    polls = result.components["polls"]
    assert polls.value is None
    assert polls.weight == 0
    # attendance and attention are full marks: (40 + 15) / 80 of 100.
    assert result.score == pytest.approx(100 * 55 / 80)
    assert sum(c.weight for c in result.components.values()) == pytest.approx(100)


def test_unanswered_polls_cost_their_weight() -> None:
    result = score_person(measures(poll_answers=0, polls_open_while_present=2), "webinar", HOUR, CONFIG)
    assert result.score == pytest.approx(55)


def test_a_one_on_one_scores_camera_time_instead_of_polls() -> None:
    result = score_person(measures(camera_seconds=HOUR / 2), SessionKind.ONE_ON_ONE, HOUR, CONFIG)
    assert "polls" not in result.components
    assert result.components["camera"].value == pytest.approx(0.5)
    assert result.components["camera"].points == pytest.approx(10)


def test_components_are_stored_as_plain_dicts() -> None:
    result = score_person(measures(), "webinar", HOUR, CONFIG)
    assert result.components_dict()["attendance"] == {"value": 1.0, "weight": 40.0, "points": 40.0}


def test_account_engagement_is_none_without_sessions() -> None:
    assert account_engagement([], NOW, CONFIG) is None


def test_a_score_a_half_life_old_counts_half() -> None:
    engagement = account_engagement([scored(90, days_ago=30), scored(30, days_ago=0, session="s2")], NOW, CONFIG)
    assert engagement == pytest.approx((0.5 * 90 + 30) / 1.5)


def test_one_on_ones_and_welcome_seminars_weigh_more_than_webinars() -> None:
    scores = [scored(100, kind="one_on_one"), scored(0, kind="webinar", session="s2")]
    assert account_engagement(scores, NOW, CONFIG) == pytest.approx(100 * 1.5 / 2.5)
    assert session_weight(scored(0, kind="welcome_seminar"), NOW, CONFIG) == pytest.approx(1.2)


def test_no_shows_count_as_zero_in_the_account_mean() -> None:
    scores = [scored(80, contact="c1"), scored(0, contact="c2")]
    assert account_engagement(scores, NOW, CONFIG) == pytest.approx(40)


def test_sessions_after_now_are_not_yet_history() -> None:
    assert account_engagement([scored(80, days_ago=-1)], NOW, CONFIG) is None


# --- properties -----------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=50)
seconds = st.floats(min_value=0, max_value=4 * HOUR, allow_nan=False)
kinds = st.sampled_from(list(SessionKind))


@st.composite
def any_measures(draw: st.DrawFn) -> SessionMeasures:
    present = draw(seconds)
    opened = draw(counts)
    return SessionMeasures(
        present_seconds=present,
        focused_seconds=draw(st.floats(min_value=0, max_value=present)),
        camera_seconds=draw(st.floats(min_value=0, max_value=present)),
        chat_messages=draw(counts),
        questions=draw(counts),
        poll_answers=draw(st.integers(min_value=0, max_value=opened)),
        polls_open_while_present=opened,
        reactions=draw(counts),
        hand_raises=draw(counts),
    )


weights = st.floats(min_value=0, max_value=100, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(any_measures(), kinds, seconds, weights, weights)
def test_scores_stay_between_0_and_100_whatever_the_weights(
    m: SessionMeasures, kind: SessionKind, length: float, w1: float, w2: float
) -> None:
    config = replace(CONFIG, weight_attendance=w1, weight_polls=w2)
    result = score_person(m, kind, length, config)
    assert 0 <= result.score <= 100
    assert sum(c.points for c in result.components.values()) == pytest.approx(result.score)


@settings(max_examples=300, deadline=None)
@given(any_measures(), kinds, st.floats(min_value=1, max_value=4 * HOUR), st.floats(min_value=1, max_value=10))
def test_more_presence_with_the_same_share_of_attention_never_lowers_a_score(
    m: SessionMeasures, kind: SessionKind, length: float, factor: float
) -> None:
    # Attention and camera are shares of presence: staying longer keeps the same share.
    fully = replace(m, focused_seconds=m.present_seconds, camera_seconds=m.present_seconds)
    longer = replace(
        fully,
        present_seconds=fully.present_seconds * factor,
        focused_seconds=fully.present_seconds * factor,
        camera_seconds=fully.present_seconds * factor,
    )
    before = score_person(fully, kind, length, CONFIG).score
    after = score_person(longer, kind, length, CONFIG).score
    assert after >= before - 1e-9


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=400),
    st.floats(min_value=0.01, max_value=400),
)
def test_an_older_identical_score_weighs_less(score: float, age: float, older_by: float) -> None:
    newer = scored(score, days_ago=age)
    older = scored(score, days_ago=age + older_by)
    assert session_weight(older, NOW, CONFIG) < session_weight(newer, NOW, CONFIG)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=200), st.floats(min_value=0.01, max_value=200))
def test_an_older_good_score_pulls_the_mean_up_less(age: float, older_by: float) -> None:
    low = scored(10, days_ago=0, session="low")
    recent_good = account_engagement([low, scored(90, days_ago=age)], NOW, CONFIG)
    older_good = account_engagement([low, scored(90, days_ago=age + older_by)], NOW, CONFIG)
    assert recent_good is not None and older_good is not None
    assert older_good <= recent_good


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=300), kinds), max_size=12
    ),
    st.randoms(use_true_random=False),
)
def test_the_account_mean_stays_in_range_and_ignores_the_order_of_scores(
    rows: list[tuple[float, float, SessionKind]], rnd: random.Random
) -> None:
    scores = [scored(s, days_ago=d, kind=k, session=f"s{i}") for i, (s, d, k) in enumerate(rows)]
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    engagement = account_engagement(scores, NOW, CONFIG)
    assert engagement == account_engagement(shuffled, NOW, CONFIG)
    recent = [s for s in scores if s.ended_at >= NOW - timedelta(days=CONFIG.half_life_days)]
    assert (engagement is None) == (not recent)
    assert engagement is None or 0 <= engagement <= 100 + 1e-9
