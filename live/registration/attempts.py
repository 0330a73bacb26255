"""How many registrations one client address may send: a token bucket per address, shared by every process.

In memory for one process; in Redis (`LIVE_REDIS_URL`) so that N processes behind one proxy refuse the
(burst+1)-th attempt from an address, not the (N x burst+1)-th (the same pattern as the login throttle
in `live.auth.throttle` and the realtime rate limits in `live.rooms.presence`).
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from live.rooms.model import TokenBucket
from live.settings import Settings
from live.typedefs import SETTINGS

log = logging.getLogger(__name__)


class Attempts(ABC):
    """Registration attempts per client address: a burst of `burst`, refilled at `rate` per second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate

    @abstractmethod
    async def allow(self, address: str) -> bool:
        """Takes one attempt from the address's bucket; False when it is empty (the attempt is refused)."""

    async def close(self) -> None:
        return None


class MemoryAttempts(Attempts):
    """One process's buckets; the oldest addresses are forgotten first, so a flood of addresses cannot grow
    memory past `MAX_TRACKED` buckets."""

    MAX_TRACKED = 10_000

    def __init__(self, burst: int, rate: float) -> None:
        super().__init__(burst, rate)
        self.buckets: dict[str, TokenBucket] = {}

    async def allow(self, address: str) -> bool:
        now = time.monotonic()
        bucket = self.buckets.pop(address, None) or TokenBucket(self.burst, self.rate, updated=now)
        self.buckets[address] = bucket  # most recent last
        if len(self.buckets) > self.MAX_TRACKED:
            del self.buckets[next(iter(self.buckets))]
        return bucket.take(now)


class RedisAttempts(Attempts):
    """`live:register:<address>` (a key of no session: `live.redis.NOT_SESSIONS`) is the address's bucket, a
    hash of tokens and time on Redis's clock, taken from atomically by the realtime limits' Lua script; it
    expires once it would be full again anyway."""

    PREFIX = "live:register:"

    def __init__(self, burst: int, rate: float, url: str) -> None:
        super().__init__(burst, rate)
        from live.redis import redis_client
        from live.rooms.presence import TAKE_TOKEN_SCRIPT

        self._redis: Any = redis_client(url)
        self._take = self._redis.register_script(TAKE_TOKEN_SCRIPT)
        self._keep = math.ceil(burst / rate) + 1 if rate > 0 else 86400

    async def allow(self, address: str) -> bool:
        try:
            wait = await self._take(keys=[self.PREFIX + address], args=[self.burst, self.rate, self._keep])
        except Exception:
            # A sign-up page must not go down with the counter: while Redis is away nobody is counted.
            log.warning("registration limit: Redis did not answer; letting %s through", address, exc_info=True)
            return True
        return float(wait) == 0.0

    async def close(self) -> None:
        await self._redis.aclose()


def attempts_for(settings: Settings) -> Attempts:
    if settings.redis_url:
        return RedisAttempts(settings.register_burst, settings.register_rate, settings.redis_url)
    return MemoryAttempts(settings.register_burst, settings.register_rate)


ATTEMPTS = web.AppKey("registration_attempts", Attempts)


async def attempts_ctx(app: web.Application) -> AsyncIterator[None]:
    attempts = attempts_for(app[SETTINGS])
    app[ATTEMPTS] = attempts
    yield
    await attempts.close()
