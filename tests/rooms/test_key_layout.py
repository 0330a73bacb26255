"""A rolling restart keeps the room's state: the stores read the Redis keys, in the formats, that the code before
the split into stores wrote (`live/rooms/state.py`'s generic hashes, sets, lists and its `kv` hash)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from live.chat.model import ChatMessage, Question
from live.chat.store import RedisChatStore
from live.recordings.current import RedisCurrentRecordings
from live.recordings.events import RecordingPart
from live.redis import redis_client
from live.rooms.model import MediaState
from live.rooms.presence import RedisPresence
from live.speakers.store import RedisSpeakerStore
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis


@pytest.fixture
async def old() -> AsyncIterator[Any]:
    """A bare client, writing as the previous version did."""
    client = redis_client(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def session_id() -> str:
    return "t" + uuid.uuid4().hex


async def test_presence_reads_the_previous_versions_media_focus_marks_and_status(old: Any, session_id: str) -> None:
    await old.hset(f"live:{session_id}:h:media", "c_1", json.dumps({"camera": True, "mic": False}))
    await old.hset(f"live:{session_id}:h:focus", "c_1", "0")
    await old.hset(f"live:{session_id}:h:kv", mapping={"status": "live", "removals_loaded": "1", "empty": "m1"})
    presence = RedisPresence(REDIS_URL)
    try:
        assert await presence.media(session_id) == {"c_1": MediaState(camera=True, mic=False)}
        assert await presence.focus(session_id) == {"c_1": False}
        assert await presence.status(session_id) == "live"
        assert await presence.removals_loaded(session_id) is True
        assert await presence.empty_mark(session_id) == "m1"
    finally:
        await presence.close()


async def test_chat_reads_the_previous_versions_cache(old: Any, session_id: str) -> None:
    message = {"id": "m1", "participant_id": "c_1", "name": "Ann", "text": "hi", "at": "2026-01-01T10:00:00Z"}
    await old.rpush(f"live:{session_id}:l:chat", json.dumps(message))
    await old.sadd(f"live:{session_id}:s:chat_deleted", "m0")
    asked = {"id": "q1", "participant_id": "c_1", "name": "Ann", "text": "why?", "answered": False, "at": "2026-01-01T10:01:00Z"}
    await old.hset(f"live:{session_id}:h:questions", "q1", json.dumps(asked))
    await old.sadd(f"live:{session_id}:s:upvotes:q1", "c_2")
    await old.hincrby(f"live:{session_id}:n:upvotes", "q1", 1)
    await old.hincrby(f"live:{session_id}:n:qa", "asked", 1)
    await old.hset(f"live:{session_id}:h:kv", "chat_loaded", "done")
    store = RedisChatStore(REDIS_URL)
    try:
        assert await store.messages(session_id) == [ChatMessage("m1", "c_1", "Ann", "hi", "2026-01-01T10:00:00Z")]
        assert await store.deleted(session_id) == {"m0"}
        assert await store.question(session_id, "q1") == Question("q1", "c_1", "Ann", "why?", "2026-01-01T10:01:00Z")
        assert await store.upvotes(session_id) == {"q1": 1}
        assert await store.upvote(session_id, "q1", "c_2") == (False, 1)
        assert await store.take_question(session_id) == 2
        assert await store.loaded(session_id) is True
    finally:
        await store.close()


async def test_speakers_and_the_recording_under_way_are_read_from_the_previous_keys(old: Any, session_id: str) -> None:
    await old.sadd(f"live:{session_id}:s:speakers", "c_1")
    await old.hset(f"live:{session_id}:h:kv", "recording", json.dumps({"id": "r1", "since": "2026-01-01T10:00:00Z"}))
    speakers, recordings = RedisSpeakerStore(REDIS_URL), RedisCurrentRecordings(REDIS_URL)
    try:
        assert await speakers.members(session_id) == {"c_1"}
        assert await recordings.get(session_id) == RecordingPart(id="r1", since="2026-01-01T10:00:00Z")
    finally:
        await speakers.close()
        await recordings.close()
