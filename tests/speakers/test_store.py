"""The speakers store, in memory and in Redis: the same answers from both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from live.speakers.store import MemorySpeakerStore, RedisSpeakerStore, SpeakerStore
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SpeakerStore]:
    made: SpeakerStore = MemorySpeakerStore() if request.param == "memory" else RedisSpeakerStore(REDIS_URL)
    yield made
    await made.close()


async def test_speakers_are_added_once_and_removed_once(store: SpeakerStore) -> None:
    session_id = "t" + uuid.uuid4().hex
    assert await store.remove(session_id, "c_1") is False
    assert await store.add(session_id, "c_1") is True
    assert await store.add(session_id, "c_1") is False
    assert await store.add(session_id, "c_2") is True
    assert await store.members(session_id) == {"c_1", "c_2"}
    assert await store.is_speaker(session_id, "c_1") is True
    assert await store.remove(session_id, "c_1") is True
    assert await store.is_speaker(session_id, "c_1") is False
    assert await store.members(session_id) == {"c_2"}
