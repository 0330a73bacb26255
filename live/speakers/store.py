"""The speakers of each session: attendees a host let publish (`speaker.invite`) until revoked.

Every process agrees on them (`media.publish` reads them). In memory for one process, in Redis for
several. Redis key (under the session's prefix, `live.redis`):
    live:{session}:s:speakers      set   participant ids of the speakers
"""

from __future__ import annotations

import abc

from aiohttp import web

from live.redis import session_key
from live.rooms.stores import MemoryStore, RedisStore, Store, store_ctx


class SpeakerStore(Store):
    @abc.abstractmethod
    async def add(self, session_id: str, participant_id: str) -> bool:
        """Makes someone a speaker; True when they were not one."""

    @abc.abstractmethod
    async def remove(self, session_id: str, participant_id: str) -> bool:
        """True when they were a speaker."""

    @abc.abstractmethod
    async def members(self, session_id: str) -> set[str]: ...

    @abc.abstractmethod
    async def is_speaker(self, session_id: str, participant_id: str) -> bool: ...


class MemorySpeakerStore(MemoryStore[set[str]], SpeakerStore):
    def __init__(self) -> None:
        super().__init__(set)

    async def add(self, session_id: str, participant_id: str) -> bool:
        speakers = self._session(session_id)
        new = participant_id not in speakers
        speakers.add(participant_id)
        return new

    async def remove(self, session_id: str, participant_id: str) -> bool:
        speakers = self._known(session_id)
        if speakers is None or participant_id not in speakers:
            return False
        speakers.discard(participant_id)
        return True

    async def members(self, session_id: str) -> set[str]:
        return set(self._known(session_id) or ())

    async def is_speaker(self, session_id: str, participant_id: str) -> bool:
        return participant_id in (self._known(session_id) or ())


class RedisSpeakerStore(RedisStore, SpeakerStore):
    @staticmethod
    def _key(session_id: str) -> str:
        return session_key(session_id, "s", "speakers")

    async def add(self, session_id: str, participant_id: str) -> bool:
        return bool(await self._redis.sadd(self._key(session_id), participant_id))

    async def remove(self, session_id: str, participant_id: str) -> bool:
        return bool(await self._redis.srem(self._key(session_id), participant_id))

    async def members(self, session_id: str) -> set[str]:
        return set(await self._redis.smembers(self._key(session_id)))

    async def is_speaker(self, session_id: str, participant_id: str) -> bool:
        return bool(await self._redis.sismember(self._key(session_id), participant_id))


SPEAKER_STORE: web.AppKey[SpeakerStore] = web.AppKey("speaker_store")
speaker_store_ctx = store_ctx(SPEAKER_STORE, MemorySpeakerStore, RedisSpeakerStore)
