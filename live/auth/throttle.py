"""Failed sign-ins counted per account and per address, and the exponential lockout they earn.

In memory for one process; in Redis (`LIVE_REDIS_URL`) so every process refuses the same guesser.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from live.auth.model import lockout_seconds
from live.settings import Settings
from live.typedefs import SETTINGS


@dataclass(frozen=True)
class Limit:
    """Failures of one kind of key (an account, an address) that are free before a lockout starts."""

    kind: str
    free: int


class LoginThrottle(ABC):
    """Counts failures per key; `retry_after` says how many seconds a key is still locked out."""

    def __init__(self, settings: Settings) -> None:
        self.limits = {
            "account": Limit("account", settings.login_free_failures),
            "address": Limit("address", settings.login_address_free_failures),
        }
        self.base = settings.login_lockout_base
        self.cap = settings.login_lockout_max
        # A key's failures are forgotten this long after its last one.
        self.window = settings.login_failure_window

    def _lockout(self, kind: str, failures: int) -> float:
        return lockout_seconds(failures, self.limits[kind].free, self.base, self.cap)

    @abstractmethod
    async def retry_after(self, keys: dict[str, str]) -> int:
        """Whole seconds until every key may try again (0: now); `keys` maps kind to key."""

    @abstractmethod
    async def failed(self, keys: dict[str, str]) -> None:
        """Counts one failed sign-in against every key."""

    @abstractmethod
    async def succeeded(self, keys: dict[str, str]) -> None:
        """Forgets the account's failures; the address keeps its count (one guesser, many accounts)."""

    async def close(self) -> None:
        return None


class MemoryThrottle(LoginThrottle):
    # Past this many keys, entries whose window ran out are dropped (bounds memory under a spray of emails).
    PRUNE_AT = 10_000

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # key -> (failures, time of the last failure, locked until)
        self._entries: dict[str, tuple[int, float, float]] = {}

    async def retry_after(self, keys: dict[str, str]) -> int:
        now = time.monotonic()
        until = max((self._entries.get(f"{k}:{v}", (0, 0.0, 0.0))[2] for k, v in keys.items()), default=0.0)
        return math.ceil(until - now) if until > now else 0

    async def failed(self, keys: dict[str, str]) -> None:
        now = time.monotonic()
        if len(self._entries) > self.PRUNE_AT:
            self._entries = {k: e for k, e in self._entries.items() if now - e[1] < self.window or e[2] > now}
        for kind, value in keys.items():
            key = f"{kind}:{value}"
            failures, last, until = self._entries.get(key, (0, 0.0, 0.0))
            if now - last >= self.window:
                failures = 0
            failures += 1
            self._entries[key] = (failures, now, max(until, now + self._lockout(kind, failures)))

    async def succeeded(self, keys: dict[str, str]) -> None:
        self._entries.pop(f"account:{keys['account']}", None)


class RedisThrottle(LoginThrottle):
    """`live:login:f:<key>` counts failures (expiring after the window); `live:login:b:<key>` is the lockout."""

    def __init__(self, settings: Settings, url: str) -> None:
        super().__init__(settings)
        from live.redis import redis_client

        # Any, as live.redis.redis_client says why; what is read is given a type below.
        self._redis: Any = redis_client(url)

    async def retry_after(self, keys: dict[str, str]) -> int:
        async with self._redis.pipeline(transaction=False) as pipe:
            for kind, value in keys.items():
                pipe.pttl(f"live:login:b:{kind}:{value}")
            ttls: list[int] = await pipe.execute()  # milliseconds left, -2 where no lockout
        return math.ceil(max([0, *ttls]) / 1000)

    async def failed(self, keys: dict[str, str]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for kind, value in keys.items():
                pipe.incr(f"live:login:f:{kind}:{value}")
                pipe.expire(f"live:login:f:{kind}:{value}", int(self.window))
            counts = (await pipe.execute())[::2]
        for (kind, value), failures in zip(keys.items(), counts, strict=True):
            lockout = self._lockout(kind, int(failures))
            if lockout > 0:
                await self._redis.set(f"live:login:b:{kind}:{value}", "1", px=int(lockout * 1000))

    async def succeeded(self, keys: dict[str, str]) -> None:
        account = keys["account"]
        await self._redis.delete(f"live:login:f:account:{account}", f"live:login:b:account:{account}")

    async def close(self) -> None:
        await self._redis.aclose()


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)


async def throttle_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    throttle = RedisThrottle(settings, settings.redis_url) if settings.redis_url else MemoryThrottle(settings)
    app[LOGIN_THROTTLE] = throttle
    yield
    await throttle.close()
