"""Roles, permission checks and the token bucket, with plain values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live.errors import Conflict, Forbidden, RateLimited
from live.rooms.model import (
    ATTENDEES,
    STAFF,
    Participant,
    RateKind,
    RateLimit,
    RoomRole,
    TokenBucket,
    check_rate_kind,
    check_role,
    check_status,
    rate_limited,
    role_for_staff,
)


def test_the_sessions_host_is_host_and_other_staff_co_hosts() -> None:
    assert role_for_staff("u1", "u1") is RoomRole.HOST
    assert role_for_staff("u2", "u1") is RoomRole.CO_HOST


def test_check_role_refuses_naming_the_event_and_roles() -> None:
    check_role(RoomRole.HOST, STAFF, "chat.delete")
    with pytest.raises(Forbidden) as exc:
        check_role(RoomRole.ATTENDEE, STAFF, "chat.delete")
    assert "chat.delete" in exc.value.message and "attendee" in exc.value.message
    with pytest.raises(Forbidden):
        check_role(RoomRole.HOST, ATTENDEES, "qa.ask")


def test_check_status_refuses_an_ended_session_with_its_own_code() -> None:
    check_status("live", {"scheduled", "live"}, "chat.send")
    with pytest.raises(Conflict) as exc:
        check_status("ended", {"scheduled", "live"}, "chat.send")
    assert exc.value.code == "session_ended"


def test_a_participant_round_trips_through_a_dict() -> None:
    p = Participant("s", "c_1", RoomRole.ATTENDEE, "Ann", contact_id="1")
    assert Participant.from_dict(p.to_dict()) == p
    assert p.public() == {"participant_id": "c_1", "name": "Ann", "role": "attendee"}


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(capacity=3, rate=1.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == pytest.approx(1.0)
    assert bucket.take(1.0) is True and bucket.take(1.0) is False
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]


@given(st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=50))
def test_a_bucket_never_allows_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    bucket = TokenBucket(capacity=5, rate=2.0)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += bucket.take(now)
    assert allowed <= 5 + 2.0 * now + 1e-9


def test_an_event_attendees_may_send_cannot_go_unlimited() -> None:
    with pytest.raises(ValueError, match=r"'hand\.raise' is open to attendees"):
        check_rate_kind("hand.raise", [RoomRole.HOST, RoomRole.ATTENDEE], RateKind.STAFF_ONLY)
    check_rate_kind("poll.open", STAFF, RateKind.STAFF_ONLY)
    check_rate_kind("hand.raise", ATTENDEES, RateKind.SIGNAL)


def test_a_rate_limit_refusal_names_the_kind_the_limit_and_the_wait() -> None:
    error = rate_limited(RateKind.SIGNAL, RateLimit(10, 2.0), 0.44)
    assert isinstance(error, RateLimited) and error.code == "rate_limited"
    assert error.message == "Too many signal events: at most 10 at once and 2 a second; try again in 0.4 s."
