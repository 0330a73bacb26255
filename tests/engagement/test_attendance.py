"""Attendance derived from a session's event log."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from live.engagement.attendance import PersonAttendance, derive_attendance, merge, ordered, session_window
from live.events.model import EventType, LogEvent

T0 = datetime(2024, 5, 2, 15, 0, tzinfo=UTC)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def ev(type_: EventType, minute: float, participant: str | None = None, **data: Any) -> LogEvent:
    return LogEvent(session_id="s1", type=type_, at=at(minute), participant_id=participant, data=data)


def join(minute: float, participant: str = "c_ann", sid: str = "sid1", **data: Any) -> LogEvent:
    defaults = {"role": "attendee", "name": "Ann", "contact_id": participant[2:]}
    return ev(EventType.JOINED, minute, participant, sid=sid, **{**defaults, **data})


def leave(minute: float, participant: str = "c_ann", sid: str = "sid1") -> LogEvent:
    return ev(EventType.LEFT, minute, participant, sid=sid)


def started(minute: float = 0) -> LogEvent:
    return ev(EventType.SESSION_STARTED, minute)


def ended(minute: float = 60) -> LogEvent:
    return ev(EventType.SESSION_ENDED, minute)


def person(events: list[LogEvent], participant: str = "c_ann", now_minute: float = 600) -> PersonAttendance:
    rows = {row.participant_id: row for row in derive_attendance(events, at(now_minute))}
    return rows[participant]


def test_a_person_present_for_the_whole_session_is_present_for_its_length() -> None:
    row = person([started(), join(0), leave(60), ended(60)])
    assert row.present_seconds == 3600
    assert row.joined_at == at(0)
    assert row.left_at == at(60)
    assert row.contact_id == "ann"
    assert row.role == "attendee"
    assert row.name == "Ann"


def test_two_tabs_overlapping_are_counted_once() -> None:
    events = [started(), join(0, sid="a"), join(10, sid="b"), leave(30, sid="a"), leave(40, sid="b"), ended()]
    row = person(events)
    assert row.present_seconds == 40 * 60
    assert row.intervals == ((at(0), at(30)), (at(10), at(40)))


def test_a_reconnect_is_two_intervals_with_the_gap_left_out() -> None:
    events = [started(), join(0, sid="a"), leave(10, sid="a"), join(20, sid="b"), leave(30, sid="b"), ended()]
    assert person(events).present_seconds == 20 * 60


def test_presence_before_the_host_starts_and_after_the_end_is_clipped() -> None:
    events = [join(-10), started(0), ended(30), leave(45)]
    row = person(events)
    assert row.present_seconds == 30 * 60
    assert row.intervals == ((at(-10), at(45)),)


def test_a_session_never_started_counts_from_the_first_join() -> None:
    events = [join(5, participant="u_host", sid="h"), join(10), leave(20)]
    assert person(events).present_seconds == 10 * 60


def test_a_connection_without_a_leave_ends_at_the_session_end() -> None:
    row = person([started(), join(10), ended(40)])
    assert row.present_seconds == 30 * 60
    assert row.left_at == at(40)


def test_a_person_still_connected_to_a_live_session_has_no_left_at_and_counts_until_now() -> None:
    row = person([started(), join(10)], now_minute=25)
    assert row.left_at is None
    assert row.present_seconds == 15 * 60


def test_odd_logs_never_raise_and_ignore_what_makes_no_sense() -> None:
    events = [
        leave(1, participant="c_bob", sid="ghost"),  # a LEFT without a JOINED
        started(),
        join(0),
        join(5),  # a second JOINED for an open connection
        leave(10),
        leave(12),  # a duplicate LEFT
        ev(EventType.FOCUS, 11, "c_ann", sid="unknown", visible=False),
        ev(EventType.MEDIA_STATE, 11, "c_ann", camera=True),  # no sid
        ev(EventType.POLL_CLOSED, 13, poll_id="never-opened"),
        ev(EventType.POLL_VOTED, 13, None, poll_id="p"),  # nobody voted
        ended(),
        ended(70),
    ]
    rows = {row.participant_id: row for row in derive_attendance(events, at(100))}
    assert rows["c_ann"].present_seconds == 600
    assert "c_bob" not in rows  # a stray LEFT is not a person


def test_out_of_order_events_give_the_same_rows_as_in_order() -> None:
    events = [started(), join(0), ev(EventType.FOCUS, 5, "c_ann", sid="sid1", visible=False), leave(20), ended()]
    assert derive_attendance(list(reversed(events)), at(100)) == derive_attendance(events, at(100))


def test_focus_is_visible_from_join_until_a_focus_event_hides_it() -> None:
    events = [
        started(),
        join(0),
        ev(EventType.FOCUS, 10, "c_ann", sid="sid1", visible=False),
        ev(EventType.FOCUS, 15, "c_ann", sid="sid1", visible=True),
        leave(30),
        ended(),
    ]
    row = person(events)
    assert row.focused_seconds == 25 * 60
    assert row.present_seconds == 30 * 60


def test_focus_counts_when_any_of_a_persons_tabs_is_visible() -> None:
    events = [
        started(),
        join(0, sid="a"),
        join(0, sid="b"),
        ev(EventType.FOCUS, 0, "c_ann", sid="a", visible=False),
        ev(EventType.FOCUS, 10, "c_ann", sid="b", visible=False),
        ev(EventType.FOCUS, 20, "c_ann", sid="a", visible=True),
        leave(30, sid="a"),
        leave(30, sid="b"),
        ended(),
    ]
    assert person(events).focused_seconds == 20 * 60


def test_camera_starts_off_and_counts_while_on() -> None:
    events = [
        started(),
        join(0),
        ev(EventType.MEDIA_STATE, 5, "c_ann", sid="sid1", camera=True, mic=True),
        ev(EventType.MEDIA_STATE, 25, "c_ann", sid="sid1", camera=False, mic=True),
        leave(30),
        ended(),
    ]
    assert person(events).camera_seconds == 20 * 60


def test_speaking_counts_from_accepting_to_the_revoke_only_while_present_and_the_end_closes_it() -> None:
    spoke = ev(EventType.SPEAKER_STARTED, 10, "c_ann")
    stopped = ev(EventType.SPEAKER_STOPPED, 20, "c_ann", reason="revoked", by="u_host")
    # Accepted at 10, revoked at 20, accepted again at 40 and still speaking when the session ends at 60;
    # away from 15 to 18 (a reload): those three minutes are not spoken.
    events = [
        started(),
        join(0, sid="a"),
        spoke,
        leave(15, sid="a"),
        join(18, sid="b"),
        stopped,
        ev(EventType.SPEAKER_STARTED, 40, "c_ann"),
        leave(70, sid="b"),
        ended(60),
    ]
    row = person(events)
    assert row.spoke_seconds == (10 - 3 + 20) * 60
    # Never accepted (or a log without a start): nothing spoken; an unmatched stop changes nothing.
    assert person([started(), join(0), stopped, leave(30), ended()]).spoke_seconds == 0
    assert person([started(), join(0), leave(30), ended()]).spoke_seconds == 0


def test_chat_questions_reactions_and_hands_are_counted_and_deleted_chat_still_counts() -> None:
    events = [
        started(),
        join(0),
        ev(EventType.CHAT_MESSAGE, 1, "c_ann", id="m1", text="hi"),
        ev(EventType.CHAT_MESSAGE, 2, "c_ann", id="m2", text="oops"),
        ev(EventType.CHAT_MESSAGE, 2, "c_ann", id="m2", text="oops"),  # a retried write
        ev(EventType.CHAT_DELETED, 3, "u_host", id="m2"),
        ev(EventType.QA_ASKED, 4, "c_ann", id="q1", text="how?"),
        ev(EventType.REACTION, 5, "c_ann", kind="applause"),
        ev(EventType.REACTION, 6, "c_ann", kind="applause"),
        ev(EventType.HAND_RAISED, 7, "c_ann"),
        ended(),
    ]
    row = person(events)
    assert (row.chat_messages, row.questions, row.reactions, row.hand_raises) == (2, 1, 2, 1)


def test_polls_count_distinct_answers_and_only_polls_open_while_present() -> None:
    events = [
        started(),
        ev(EventType.POLL_OPENED, 1, poll_id="before"),
        ev(EventType.POLL_CLOSED, 4, poll_id="before"),
        join(5),
        ev(EventType.POLL_OPENED, 10, poll_id="p1"),
        ev(EventType.POLL_VOTED, 11, "c_ann", poll_id="p1", choices=[0]),
        ev(EventType.POLL_VOTED, 12, "c_ann", poll_id="p1", choices=[1]),  # voting again replaces
        ev(EventType.POLL_CLOSED, 15, poll_id="p1"),
        ev(EventType.POLL_OPENED, 20, poll_id="p2"),  # never closed: open until the end
        leave(30),
        ev(EventType.POLL_OPENED, 40, poll_id="after"),
        ended(),
    ]
    row = person(events)
    assert row.poll_answers == 1
    assert row.polls_open_while_present == 2


def test_the_session_window_is_the_session_as_run_once_ended() -> None:
    window = session_window([started(3), ended(48)], scheduled_start=at(0), scheduled_minutes=60, now=at(100))
    assert window == (at(3), at(48), 45 * 60)


def test_the_session_window_uses_the_scheduled_length_while_live() -> None:
    window = session_window([started(3)], scheduled_start=at(0), scheduled_minutes=60, now=at(10))
    assert window.start == at(3)
    assert window.end == at(10)
    assert window.length_seconds == 3600


def test_the_session_window_of_a_session_nobody_joined_is_its_schedule() -> None:
    start, end, length = session_window([], scheduled_start=at(0), scheduled_minutes=30, now=at(-60))
    assert (start, end, length) == (at(0), at(0), 1800)


def test_merge_joins_touching_and_overlapping_intervals() -> None:
    assert merge([(at(5), at(10)), (at(0), at(5)), (at(20), at(30)), (at(25), at(26))]) == [
        (at(0), at(10)),
        (at(20), at(30)),
    ]


# --- properties -----------------------------------------------------------------------------------

PEOPLE = ["c_ann", "c_bob", "u_host"]
SIDS = ["a", "b", "c"]


@st.composite
def logs(draw: st.DrawFn) -> list[LogEvent]:
    """Random logs of one session: sensible and senseless events at a few repeated instants."""
    minute = st.integers(min_value=-5, max_value=70)
    who = st.sampled_from(PEOPLE)
    sid = st.sampled_from(SIDS)
    event = st.one_of(
        st.builds(lambda m, p, s: join(m, p, s), minute, who, sid),
        st.builds(lambda m, p, s: leave(m, p, s), minute, who, sid),
        st.builds(lambda m, p, s, v: ev(EventType.FOCUS, m, p, sid=s, visible=v), minute, who, sid, st.booleans()),
        st.builds(
            lambda m, p, s, c: ev(EventType.MEDIA_STATE, m, p, sid=s, camera=c, mic=True),
            minute,
            who,
            sid,
            st.booleans(),
        ),
        st.builds(lambda m, p: ev(EventType.CHAT_MESSAGE, m, p, text="x"), minute, who),
        st.builds(lambda m, p: ev(EventType.REACTION, m, p, kind="applause"), minute, who),
        st.builds(lambda m, q: ev(EventType.POLL_OPENED, m, poll_id=q), minute, st.sampled_from(["p1", "p2"])),
        st.builds(lambda m, q: ev(EventType.POLL_CLOSED, m, poll_id=q), minute, st.sampled_from(["p1", "p2"])),
        st.builds(
            lambda m, p, q: ev(EventType.POLL_VOTED, m, p, poll_id=q), minute, who, st.sampled_from(["p1", "p2"])
        ),
        st.builds(started, minute),
        st.builds(ended, minute),
    )
    return draw(st.lists(event, max_size=30))


@settings(max_examples=200, deadline=None)
@given(logs(), st.randoms(use_true_random=False))
def test_derivation_is_the_same_in_any_order_and_any_batch_split(events: list[LogEvent], rnd: random.Random) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    # A batching writer flushes in batches; replaying them concatenated is the same log.
    cut = rnd.randint(0, len(shuffled))
    batches = shuffled[cut:] + shuffled[:cut]
    assert derive_attendance(batches, at(90)) == derive_attendance(events, at(90))
    assert ordered(shuffled) == ordered(events)


@settings(max_examples=200, deadline=None)
@given(logs())
def test_derived_measures_are_never_negative_and_never_exceed_presence(events: list[LogEvent]) -> None:
    for row in derive_attendance(events, at(90)):
        assert 0 <= row.focused_seconds <= row.present_seconds + 1e-9
        assert 0 <= row.camera_seconds <= row.present_seconds + 1e-9
        assert 0 <= row.poll_answers <= row.polls_open_while_present
