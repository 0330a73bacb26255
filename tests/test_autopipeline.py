"""The auto-pipelining Redis client: commands issued together share one round trip and keep their own answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from live.autopipeline import AutoPipelineRedis
from live.redis import redis_client
from tests.conftest import REDIS_URL
from tests.faults.support import ThrowawayRedis

pytestmark = pytest.mark.redis


@pytest.fixture
async def client() -> AsyncIterator[AutoPipelineRedis]:
    made = redis_client(REDIS_URL)
    assert isinstance(made, AutoPipelineRedis)
    yield made
    await made.aclose()


async def test_commands_issued_together_take_one_round_trip_and_each_gets_its_answer(client: AutoPipelineRedis) -> None:
    prefix = f"autopipe:{uuid.uuid4().hex}"
    await client.sadd(f"{prefix}:set", "a", "b")
    await client.hset(f"{prefix}:hash", mapping={"x": "1", "y": "2"})
    trips, sent = client.round_trips, client.commands_sent
    answers = await asyncio.gather(
        client.smembers(f"{prefix}:set"),
        client.hgetall(f"{prefix}:hash"),
        client.hget(f"{prefix}:hash", "y"),
        client.sismember(f"{prefix}:set", "c"),
        client.incr(f"{prefix}:n"),
        client.get(f"{prefix}:missing"),
    )
    assert answers == [{"a", "b"}, {"x": "1", "y": "2"}, "2", False, 1, None]
    assert (client.round_trips - trips, client.commands_sent - sent) == (1, 6)
    await client.delete(f"{prefix}:set", f"{prefix}:hash", f"{prefix}:n")


async def test_the_same_read_issued_together_is_sent_once_and_each_caller_gets_its_own_answer(
    client: AutoPipelineRedis,
) -> None:
    key = f"autopipe:{uuid.uuid4().hex}"
    await client.hset(key, mapping={"x": "1"})
    sent = client.commands_sent
    first, second, third = await asyncio.gather(client.hgetall(key), client.hgetall(key), client.hgetall(key))
    assert first == second == third == {"x": "1"}
    first["y"] = "changed by its caller"
    assert second == third == {"x": "1"}  # copies, not one shared dict
    assert client.commands_sent - sent == 1
    # A write in the same batch is never merged: both run.
    sent = client.commands_sent
    assert await asyncio.gather(client.incr(f"{key}:n"), client.incr(f"{key}:n")) == [1, 2]
    assert client.commands_sent - sent == 2
    await client.delete(key, f"{key}:n")


async def test_a_failing_command_fails_alone(client: AutoPipelineRedis) -> None:
    key = f"autopipe:{uuid.uuid4().hex}"
    await client.set(key, "text")
    wrong, right = await asyncio.gather(client.sadd(key, "x"), client.get(key), return_exceptions=True)
    assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)
    assert right == "text"
    await client.delete(key)


async def test_a_script_the_server_forgot_is_loaded_again() -> None:
    server = ThrowawayRedis()
    await server.start()
    client = redis_client(server.url)
    try:
        script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert await asyncio.gather(script(keys=["n"], args=[2]), script(keys=["n"], args=[3])) == [2, 5]
        await client.script_flush()
        assert await script(keys=["n"], args=[1]) == 6
    finally:
        await client.aclose()
        await server.remove()


async def test_when_redis_is_gone_every_command_of_the_batch_fails_with_a_connection_error() -> None:
    server = ThrowawayRedis()
    await server.start()
    client = redis_client(server.url)
    try:
        assert await client.ping() is True
        await server.kill()
        results = await asyncio.gather(client.get("a"), client.set("b", "1"), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in results), results
    finally:
        await client.aclose()
        await server.remove()


async def test_what_is_issued_while_a_batch_is_out_goes_together_once_it_is_answered(client: AutoPipelineRedis) -> None:
    key = f"autopipe:{uuid.uuid4().hex}"
    trips, sent = client.round_trips, client.commands_sent
    first = asyncio.ensure_future(client.incr(key))
    await _first_batch_out(client, trips)
    later: list[asyncio.Future[int]] = []
    for _ in range(3):  # three more loop turns, each issuing one command, while the INCR is out
        later.append(asyncio.ensure_future(client.incr(key)))
        await asyncio.sleep(0)
    assert not first.done()
    assert client.round_trips - trips == 1  # nothing else sent yet
    assert sorted([await first, *await asyncio.gather(*later)]) == [1, 2, 3, 4]
    assert (client.round_trips - trips, client.commands_sent - sent) == (2, 4)
    await client.delete(key)


async def test_closing_sends_what_waited_for_the_batch_in_flight() -> None:
    client = redis_client(REDIS_URL)
    key = f"autopipe:{uuid.uuid4().hex}"
    first = asyncio.ensure_future(client.incr(key))
    await _first_batch_out(client, 0)
    second = asyncio.ensure_future(client.incr(key))
    await asyncio.sleep(0)
    assert client._queued  # waiting for the first batch
    await client.aclose()
    assert (await first, await second) == (1, 2)
    reader = redis_client(REDIS_URL)
    try:
        assert await reader.get(key) == "2"
        await reader.delete(key)
    finally:
        await reader.aclose()


async def _first_batch_out(client: AutoPipelineRedis, trips: int) -> None:
    """A few loop turns, until a batch has gone out since `trips` (and before it can have been answered)."""
    for _ in range(20):
        if client.round_trips > trips:
            return
        await asyncio.sleep(0)
    raise AssertionError("no batch went out")
