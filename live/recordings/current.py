"""The recording under way in each session, known to every process (every page shows the badge).

The recorder itself runs in the process that forwards the session's media; this store only says
which recording is running and since when (`RecordingPart`, `room.state.recording`). In memory for one
process, in Redis for several. Redis (under the session's prefix, `live.redis`):
    live:{session}:h:kv            field `recording`: {"id", "since"} as JSON while a recording runs
"""

from __future__ import annotations

import abc

from aiohttp import web

from live.recordings.events import RecordingPart
from live.redis import kv_key
from live.rooms.stores import MemoryStore, RedisStore, Store, store_ctx

FIELD = "recording"


class CurrentRecordings(Store):
    @abc.abstractmethod
    async def get(self, session_id: str) -> RecordingPart | None: ...

    @abc.abstractmethod
    async def set(self, session_id: str, part: RecordingPart) -> None: ...

    @abc.abstractmethod
    async def clear(self, session_id: str) -> None: ...


class _Slot:
    def __init__(self) -> None:
        self.part: RecordingPart | None = None


class MemoryCurrentRecordings(MemoryStore[_Slot], CurrentRecordings):
    def __init__(self) -> None:
        super().__init__(_Slot)

    async def get(self, session_id: str) -> RecordingPart | None:
        slot = self._known(session_id)
        return slot.part if slot else None

    async def set(self, session_id: str, part: RecordingPart) -> None:
        self._session(session_id).part = part

    async def clear(self, session_id: str) -> None:
        slot = self._known(session_id)
        if slot is not None:
            slot.part = None


class RedisCurrentRecordings(RedisStore, CurrentRecordings):
    async def get(self, session_id: str) -> RecordingPart | None:
        raw = await self._redis.hget(kv_key(session_id), FIELD)
        return RecordingPart.model_validate_json(raw) if raw else None

    async def set(self, session_id: str, part: RecordingPart) -> None:
        await self._redis.hset(kv_key(session_id), FIELD, part.model_dump_json())

    async def clear(self, session_id: str) -> None:
        await self._redis.hdel(kv_key(session_id), FIELD)


CURRENT_RECORDINGS: web.AppKey[CurrentRecordings] = web.AppKey("current_recordings")
current_recordings_ctx = store_ctx(CURRENT_RECORDINGS, MemoryCurrentRecordings, RedisCurrentRecordings)
