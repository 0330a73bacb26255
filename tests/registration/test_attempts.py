"""The registration limit's own rules: a burst per address, and a Redis outage that does not close the page."""

from __future__ import annotations

from live.registration.attempts import MemoryAttempts, RedisAttempts
from tests.conftest import free_port


async def test_each_address_has_its_own_burst() -> None:
    attempts = MemoryAttempts(burst=2, rate=0.0001)
    assert [await attempts.allow("192.0.2.1") for _ in range(3)] == [True, True, False]
    assert await attempts.allow("192.0.2.2")


async def test_while_redis_is_away_registrations_are_let_through_not_refused_or_failed() -> None:
    attempts = RedisAttempts(burst=1, rate=0.0001, url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    try:
        assert [await attempts.allow("192.0.2.3") for _ in range(3)] == [True, True, True]
    finally:
        await attempts.close()
