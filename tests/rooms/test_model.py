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
    RateLimiter,
    RoomRole,
    TokenBucket,
    check_role,
    check_status,
    one_on_one_can_start,
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


def test_the_limiter_limits_attendees_per_kind_and_never_staff() -> None:
    limiter = RateLimiter({RateKind.CHAT: RateLimit(2, 1.0), RateKind.REACTION: RateLimit(1, 1.0)})
    limiter.check("c_1", RoomRole.ATTENDEE, RateKind.CHAT, 0.0)
    limiter.check("c_1", RoomRole.ATTENDEE, RateKind.CHAT, 0.0)
    with pytest.raises(RateLimited):
        limiter.check("c_1", RoomRole.ATTENDEE, RateKind.CHAT, 0.0)
    limiter.check("c_1", RoomRole.ATTENDEE, RateKind.REACTION, 0.0)
    limiter.check("c_2", RoomRole.ATTENDEE, RateKind.CHAT, 0.0)
    for _ in range(50):
        limiter.check("u_1", RoomRole.HOST, RateKind.CHAT, 0.0)
        limiter.check("u_2", RoomRole.CO_HOST, RateKind.REACTION, 0.0)


def test_a_one_on_one_can_start_only_with_staff_and_a_contact_in() -> None:
    def person(pid: str, role: RoomRole) -> Participant:
        return Participant("s1", pid, role, pid)

    csm, contact, colleague = person("u_1", RoomRole.HOST), person("c_1", RoomRole.ATTENDEE), person("c_2", RoomRole.ATTENDEE)
    assert one_on_one_can_start([csm, contact])
    assert one_on_one_can_start([person("u_2", RoomRole.CO_HOST), contact])
    assert not one_on_one_can_start([csm])
    assert not one_on_one_can_start([contact, colleague])
    assert not one_on_one_can_start([])
