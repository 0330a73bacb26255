"""What every per-session store shares: the retention hooks, closing, and how the app makes one.

A capability's realtime state (chat's cache, the speakers, the recording under way...) is a store of
its own, with the same two implementations as presence: one in this process's memory, one in Redis
for several processes. A store is made by `store_ctx` (memory, or Redis when `LIVE_REDIS_URL` is set),
put under its app key and registered in `app[SESSION_STORES]`, so `live.rooms.retention` forgets a
session in every store at once.

In Redis every store's keys share the session's prefix (`live.redis.session_key`) and presence
deletes the whole prefix in one sweep, so a Redis store lists no sessions and drops nothing itself.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

from aiohttp import web

from live.redis import redis_client
from live.typedefs import SESSION_STORES, SETTINGS

T = TypeVar("T")


class Store(abc.ABC):
    """A store of per-session realtime state (see `live.typedefs.SessionStore`)."""

    @abc.abstractmethod
    async def session_ids(self) -> set[str]:
        """Sessions this store holds state for that presence would not list."""

    @abc.abstractmethod
    async def drop_session(self, session_id: str) -> int:
        """Forgets one session (it ended long ago); the number of entries removed."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do in memory
        """Releases the backend's connections."""


class MemoryStore(Store, Generic[T]):
    """One process: one value per session, made on first use; atomic because no method awaits midway."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._sessions: dict[str, T] = {}

    def _session(self, session_id: str) -> T:
        """The session's value, made if it has none yet."""
        value = self._sessions.get(session_id)
        if value is None:
            value = self._sessions[session_id] = self._make()
        return value

    def _known(self, session_id: str) -> T | None:
        """The session's value, or None (reading makes nothing)."""
        return self._sessions.get(session_id)

    async def session_ids(self) -> set[str]:
        return set(self._sessions)

    async def drop_session(self, session_id: str) -> int:
        return 0 if self._sessions.pop(session_id, None) is None else 1


class RedisStore(Store):
    """Several processes on one Redis: a client of its own; its keys go with the session's prefix."""

    def __init__(self, url: str) -> None:
        self._redis: Any = redis_client(url)

    async def session_ids(self) -> set[str]:
        return set()  # presence lists every session with a key under `live:{session}:`

    async def drop_session(self, session_id: str) -> int:
        return 0  # presence drops the whole prefix

    async def close(self) -> None:
        await self._redis.aclose()


S = TypeVar("S", bound=Store)


def store_ctx(
    key: web.AppKey[S], memory: Callable[[], S], redis: Callable[[str], S]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that makes the store (`redis(url)` when Redis is configured), registers it for
    retention and closes it on shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        url = app[SETTINGS].redis_url
        store = redis(url) if url else memory()
        app[key] = store
        app[SESSION_STORES].append(store)
        yield
        await store.close()

    return ctx
