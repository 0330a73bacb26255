"""Chat text rules and the history replayed from the event log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live.chat.model import MAX_TEXT, check_text, replay
from live.errors import InvalidInput
from live.events.model import EventType, LogEvent


def test_text_is_returned_exactly_as_typed_html_and_spaces_included() -> None:
    text = "  <b>bold</b> & <script>alert(1)</script>\n"
    assert check_text(text) == text


def test_text_of_2000_characters_is_accepted_and_2001_refused_with_the_count() -> None:
    assert check_text("a" * MAX_TEXT) == "a" * MAX_TEXT
    with pytest.raises(InvalidInput) as exc:
        check_text("a" * (MAX_TEXT + 1))
    assert exc.value.code == "too_long" and "2001" in exc.value.message


def test_blank_text_and_control_characters_are_refused() -> None:
    for text in ("", "   ", "\n\t"):
        with pytest.raises(InvalidInput):
            check_text(text)
    with pytest.raises(InvalidInput):
        check_text("bell\x07")


@given(st.text(min_size=1, max_size=MAX_TEXT).filter(lambda t: t.strip() and all(c >= " " or c in "\t\n\r" for c in t)))
def test_any_printable_text_round_trips_unchanged(text: str) -> None:
    try:
        assert check_text(text) == text
    except InvalidInput as exc:  # other Cc characters (DEL, C1) are refused, by design
        assert "control" in exc.message


def test_replay_derives_chat_minus_deletions_and_questions_with_upvotes() -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)

    def ev(n: int, type: EventType, pid: str, **data: object) -> LogEvent:
        return LogEvent("s", type, t0 + timedelta(seconds=n), pid, dict(data))

    history = replay(
        [
            ev(0, EventType.JOINED, "c_1", name="Ann", sid="x", role="attendee"),
            ev(1, EventType.CHAT_MESSAGE, "c_1", id="m1", text="hi"),
            ev(2, EventType.CHAT_MESSAGE, "c_1", id="m2", text="oops"),
            ev(3, EventType.CHAT_DELETED, "u_1", id="m2"),
            ev(4, EventType.QA_ASKED, "c_1", id="q1", text="why?"),
            ev(5, EventType.QA_UPVOTED, "c_2", id="q1"),
            ev(6, EventType.QA_UPVOTED, "c_2", id="q1"),
            ev(7, EventType.QA_ANSWERED, "u_1", id="q1"),
        ]
    )
    assert [m.public() for m in history.visible_chat()] == [
        {"id": "m1", "participant_id": "c_1", "name": "Ann", "text": "hi", "at": "2025-01-01T00:00:01Z"}
    ]
    question = history.questions["q1"].public()
    assert question["upvotes"] == 1 and question["answered"] is True and question["name"] == "Ann"
