"""Q&A stays bounded: `room.state` carries the top and the newest questions, `qa.list` pages the rest, a session has a cap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from live.chat.model import STATE_QUESTIONS, TOP_OPEN, page_questions, questions_for_state
from tests.conftest import ServerFactory, add_staff
from tests.rooms.support import connect, make_room


def question(n: int, upvotes: int = 0, answered: bool = False) -> dict[str, object]:
    return {"id": f"q{n:04d}", "text": f"question {n}", "at": f"2026-11-29T10:{n // 60:02d}:{n % 60:02d}Z",
            "upvotes": upvotes, "answered": answered, "participant_id": "c_1", "name": "Ann"}


def test_room_state_keeps_the_most_upvoted_open_questions_and_the_newest() -> None:
    old_popular = [question(n, upvotes=100 - n) for n in range(30)]
    answered_popular = [question(30, upvotes=1000, answered=True)]
    newest = [question(n) for n in range(31, 200)]
    chosen = questions_for_state(old_popular + answered_popular + newest)
    ids = [q["id"] for q in chosen]
    assert len(chosen) == STATE_QUESTIONS
    assert ids == sorted(ids)  # oldest first, as asked
    assert {f"q{n:04d}" for n in range(TOP_OPEN)} <= set(ids)  # the top open ones, however old
    assert "q0030" not in ids  # answered: not among the top
    assert {f"q{n:04d}" for n in range(200 - (STATE_QUESTIONS - TOP_OPEN), 200)} <= set(ids)  # the newest
    assert questions_for_state([question(1), question(2)]) == [question(1), question(2)]


@given(total=st.integers(0, 120), limit=st.integers(1, 40))
def test_paging_walks_every_question_once_newest_first(total: int, limit: int) -> None:
    every = [question(n) for n in range(total)]
    seen: list[str] = []
    before = None
    while True:
        page, before = page_questions(every, before, limit)
        assert len(page) <= limit
        seen += [str(q["id"]) for q in page]
        if before is None:
            break
    assert seen == [f"q{n:04d}" for n in reversed(range(total))]


async def test_a_joiner_gets_at_most_fifty_questions_and_pages_the_rest(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    server = await make_server(sqlite_url, chat_burst=100, chat_rate=0.01, max_questions=60, query_burst=100)
    settings = server.settings
    host = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, settings.secret_key, host.id, guests=1)
    guest = await connect(server.url, room.guests[0].token, room.session_id)
    try:
        asked = [(await guest.call("qa.ask", {"text": f"question {n}"}))["id"] for n in range(60)]
        refused = await guest.call("qa.ask", {"text": "one too many"})
        assert refused["ok"] is False and refused["error"]["code"] == "too_many_questions"
        assert "60 questions" in refused["error"]["message"]

        late = await connect(server.url, room.guests[0].token, room.session_id)
        assert len(late.state["questions"]) == STATE_QUESTIONS and late.state["questions_total"] == 60
        await late.close()

        paged: list[str] = []
        before = None
        while True:
            ack = await guest.call("qa.list", {"limit": 25} | ({"before": before} if before else {}))
            assert ack["ok"] is True, ack
            paged += [q["id"] for q in ack["questions"]]
            before = ack["next"]
            if before is None:
                break
        assert paged == list(reversed(asked))
        bad = await guest.call("qa.list", {"limit": 1000})
        assert bad["ok"] is False and bad["error"]["code"] == "invalid" and "limit" in bad["error"]["message"]
        unknown = await guest.call("qa.list", {"before": "nope"})
        assert unknown["error"]["code"] == "not_found"
    finally:
        await guest.close()
