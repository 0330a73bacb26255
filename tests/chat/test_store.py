"""Chat's room cache, in memory and in Redis: typed values in and out, the same behaviour from both, atomic
under concurrency, and a rebuild from the event log claimed by exactly one caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from live.chat.model import KEEP_CHAT, ChatMessage, History, Question
from live.chat.store import ChatStore, MemoryChatStore, RedisChatStore
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ChatStore]:
    made: ChatStore = MemoryChatStore() if request.param == "memory" else RedisChatStore(REDIS_URL)
    yield made
    await made.close()


@pytest.fixture
def session_id() -> str:
    return "t" + uuid.uuid4().hex


def message(n: int) -> ChatMessage:
    return ChatMessage(f"m{n}", "c_1", "Ann", f"hello {n}", f"2026-01-01T00:00:{n % 60:02d}Z")


def question(n: int, answered: bool = False) -> Question:
    return Question(f"q{n}", "c_1", "Ann", f"why {n}?", f"2026-01-01T00:01:{n:02d}Z", answered=answered)


async def test_messages_are_kept_newest_last_up_to_the_cap_and_deleted_once(store: ChatStore, session_id: str) -> None:
    assert await store.messages(session_id) == []
    for n in range(KEEP_CHAT + 3):
        await store.add_message(session_id, message(n))
    kept = await store.messages(session_id)
    assert len(kept) == KEEP_CHAT
    assert kept[0] == message(3) and kept[-1] == message(KEEP_CHAT + 2)
    assert await store.delete_message(session_id, "m5") is True
    assert await store.delete_message(session_id, "m5") is False
    assert await store.deleted(session_id) == {"m5"}


async def test_questions_round_trip_and_are_counted(store: ChatStore, session_id: str) -> None:
    assert await store.question(session_id, "q1") is None
    assert await store.question_count(session_id) == 0
    await store.put_question(session_id, question(1))
    await store.put_question(session_id, question(2))
    await store.put_question(session_id, question(1, answered=True))  # answering replaces it
    assert await store.question(session_id, "q1") == question(1, answered=True)
    assert sorted(q.id for q in await store.questions(session_id)) == ["q1", "q2"]
    assert await store.question_count(session_id) == 2
    taken = await asyncio.gather(*(store.take_question(session_id) for _ in range(30)))
    assert sorted(taken) == list(range(1, 31))


async def test_one_upvote_per_person_even_when_sent_at_once(store: ChatStore, session_id: str) -> None:
    await store.put_question(session_id, question(1))
    outcomes = await asyncio.gather(*(store.upvote(session_id, "q1", "c_2") for _ in range(10)))
    assert [new for new, _ in outcomes].count(True) == 1
    assert await store.upvote(session_id, "q1", "c_3") == (True, 2)
    assert await store.upvotes(session_id) == {"q1": 2}


async def test_the_rebuild_is_claimed_once_and_restores_the_history(store: ChatStore, session_id: str) -> None:
    assert await store.loaded(session_id) is False
    claims = await asyncio.gather(*(store.claim_load(session_id) for _ in range(5)))
    assert claims.count(True) == 1
    history = History(
        chat=[message(1), message(2)],
        deleted={"m1"},
        questions={"q1": question(1).upvote("c_2").upvote("c_3"), "q2": question(2)},
    )
    await store.restore(session_id, history)
    await store.finish_load(session_id)
    assert await store.loaded(session_id) is True
    assert await store.messages(session_id) == [message(1), message(2)]
    assert await store.deleted(session_id) == {"m1"}
    assert await store.upvotes(session_id) == {"q1": 2}
    assert await store.upvote(session_id, "q1", "c_2") == (False, 2)  # restored voters count as voted
    assert await store.take_question(session_id) == 3  # the two restored ones count against the limit
