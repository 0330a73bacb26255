"""The speakers of each session: attendees a host let publish (`speaker.invite`) until revoked.

Two sets per session: `speakers` (invited; `media.publish` reads it) and `speaking` (those who accepted
the invitation; their time spoken counts). Every process agrees on them. In memory for one process,
in Redis for several. Redis keys (under the session's prefix, `live.redis`):
    live:{session}:s:speakers      set   participant ids of the speakers (invited)
    live:{session}:s:speaking      set   participant ids of the speakers who accepted
"""

from __future__ import annotations

import abc
from typing import Literal

from aiohttp import web

from live.redis import session_key
from live.rooms.stores import MemoryStore, RedisStore, Store, store_ctx

Group = Literal["speakers", "speaking"]
INVITED: Group = "speakers"
SPEAKING: Group = "speaking"


class SpeakerStore(Store):
    @abc.abstractmethod
    async def add(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        """Puts someone in the group (invited, or speaking); True when they were not in it."""

    @abc.abstractmethod
    async def remove(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        """True when they were in the group."""

    @abc.abstractmethod
    async def members(self, session_id: str, group: Group = INVITED) -> set[str]: ...

    @abc.abstractmethod
    async def is_speaker(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool: ...


class MemorySpeakerStore(MemoryStore[dict[str, set[str]]], SpeakerStore):
    def __init__(self) -> None:
        super().__init__(lambda: {INVITED: set(), SPEAKING: set()})

    async def add(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        members = self._session(session_id)[group]
        new = participant_id not in members
        members.add(participant_id)
        return new

    async def remove(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        groups = self._known(session_id)
        if groups is None or participant_id not in groups[group]:
            return False
        groups[group].discard(participant_id)
        return True

    async def members(self, session_id: str, group: Group = INVITED) -> set[str]:
        groups = self._known(session_id)
        return set(groups[group]) if groups is not None else set()

    async def is_speaker(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        groups = self._known(session_id)
        return groups is not None and participant_id in groups[group]


class RedisSpeakerStore(RedisStore, SpeakerStore):
    @staticmethod
    def _key(session_id: str, group: Group) -> str:
        return session_key(session_id, "s", group)

    async def add(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        return bool(await self._redis.sadd(self._key(session_id, group), participant_id))

    async def remove(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        return bool(await self._redis.srem(self._key(session_id, group), participant_id))

    async def members(self, session_id: str, group: Group = INVITED) -> set[str]:
        return set(await self._redis.smembers(self._key(session_id, group)))

    async def is_speaker(self, session_id: str, participant_id: str, group: Group = INVITED) -> bool:
        return bool(await self._redis.sismember(self._key(session_id, group), participant_id))


SPEAKER_STORE: web.AppKey[SpeakerStore] = web.AppKey("speaker_store")
speaker_store_ctx = store_ctx(SPEAKER_STORE, MemorySpeakerStore, RedisSpeakerStore)
