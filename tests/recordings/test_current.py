"""The recording under way, in memory and in Redis: the same answers from both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from live.recordings.current import CurrentRecordings, MemoryCurrentRecordings, RedisCurrentRecordings
from live.recordings.events import RecordingPart
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CurrentRecordings]:
    made: CurrentRecordings = MemoryCurrentRecordings() if request.param == "memory" else RedisCurrentRecordings(REDIS_URL)
    yield made
    await made.close()


async def test_the_recording_under_way_is_set_read_and_cleared(store: CurrentRecordings) -> None:
    session_id = "t" + uuid.uuid4().hex
    assert await store.get(session_id) is None
    await store.clear(session_id)  # nothing to clear is harmless
    part = RecordingPart(id="r1", since="2026-01-01T10:00:00Z")
    await store.set(session_id, part)
    assert await store.get(session_id) == part
    await store.clear(session_id)
    assert await store.get(session_id) is None
