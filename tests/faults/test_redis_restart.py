"""Redis dies and comes back under a live webinar: events meanwhile are refused, never acknowledged and lost."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from live.db.engine import create_engine
from live.events.model import EventType
from live.events.store import session_events
from live.typedefs import ENGINE, EVENT_WRITER
from tests.conftest import ServerFactory, add_staff
from tests.faults.support import ThrowawayRedis
from tests.rooms.support import Client, connect, make_room
from tests.rooms.test_processes import serve


@pytest.fixture
async def redis_server() -> AsyncIterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    await server.start()
    try:
        yield server
    finally:
        await server.remove()


async def _send_until_heard(sender: Client, listener: Client, text: str) -> tuple[list[Any], dict[str, Any]]:
    """Sends `text` until an ack is ok, then waits for the listener to hear that message; the acks on the way."""
    acks: list[Any] = []
    for _ in range(300):  # a bound against hanging only: Redis clients reconnect with their own backoff
        ack = await sender.call("chat.send", {"text": text}, wait=10)
        acks.append(ack)
        if ack["ok"]:
            return acks, await listener.next_where("chat.message", wait=60, id=ack["id"])
        assert ack["error"]["code"] == "unavailable", ack
        await asyncio.sleep(0.2)
    raise AssertionError(f"never accepted again: {acks[-3:]}")


async def test_while_redis_is_down_chat_and_votes_are_refused_and_the_room_goes_on_after(
    redis_server: ThrowawayRedis, make_server: ServerFactory, sqlite_url: str
) -> None:
    # Retries while Redis comes back must not run into the attendee rate limits (tested on their own).
    server = await make_server(
        sqlite_url, redis_url=redis_server.url, chat_burst=1000, chat_rate=100.0, vote_burst=1000, vote_rate=100.0
    )
    host_member = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, server.settings.secret_key, host_member.id)
    host = await connect(server.url, host_member.token, room.session_id)
    guest = await connect(server.url, room.guests[0].token, room.session_id)
    try:
        poll = await host.call("poll.open", {"question": "Still there?", "options": ["Yes", "No"]})
        assert poll["ok"] is True
        await _send_until_heard(guest, host, "before")

        await redis_server.kill()
        refused = await guest.call("chat.send", {"text": "while down"}, wait=30)
        assert refused["ok"] is False and refused["error"]["code"] == "unavailable", refused
        vote = await guest.call("poll.vote", {"poll_id": poll["id"], "choices": [0]}, wait=30)
        assert vote["ok"] is False and vote["error"]["code"] == "unavailable", vote
        ready = await server.request("GET", "/readyz")
        assert ready.status == 503 and ready.body["redis"] == "unreachable"
        assert (await server.request("GET", "/healthz")).body["status"] == "degraded"

        await redis_server.start()
        acks, heard = await _send_until_heard(guest, host, "after")
        assert heard["text"] == "after" and heard["participant_id"] == guest.participant_id
        # Every "after" acknowledged was heard: refusals are the only other answer.
        assert [a["ok"] for a in acks].count(True) == 1
        for _ in range(300):  # the first use of a pooled connection from before the restart may be refused too
            revote = await guest.call("poll.vote", {"poll_id": poll["id"], "choices": [1]}, wait=10)
            if revote["ok"]:
                break
            assert revote["error"]["code"] == "unavailable", revote
            await asyncio.sleep(0.2)
        assert revote["ok"] is True, revote
        closed = await host.call("poll.close", {"poll_id": poll["id"]})
        assert closed["ok"] is True and closed["counts"] == [0, 1], closed
        assert (await server.request("GET", "/readyz")).status == 200

        await server.app[EVENT_WRITER].flush()
        texts = [e.data["text"] for e in await session_events(server.app[ENGINE], room.session_id, (EventType.CHAT_MESSAGE,))]
        assert texts == ["before", "after"]  # the refused message was not logged either
    finally:
        await host.close()
        await guest.close()


@pytest.mark.postgres
async def test_two_processes_ride_out_a_redis_restart_and_nothing_acknowledged_is_lost(
    redis_server: ThrowawayRedis, tmp_path: Path, postgres_url: str
) -> None:
    secret = "shared-" + uuid.uuid4().hex
    host_member = await add_staff(postgres_url, "host@example.com", "host")
    room = await make_room(postgres_url, secret, host_member.id)
    # Retries while Redis comes back must not run into the attendee rate limits (tested on their own).
    limits = {"LIVE_RATE_LIMITS": json.dumps({"chat": {"burst": 1000, "rate": 100}})}
    acknowledged: list[str] = []
    async with serve(tmp_path, postgres_url, secret, redis_server.url, limits) as (a_url, _), serve(
        tmp_path, postgres_url, secret, redis_server.url, limits
    ) as (b_url, _):
        host = await connect(a_url, host_member.token, room.session_id)
        guest = await connect(b_url, room.guests[0].token, room.session_id)
        try:
            acks, _ = await _send_until_heard(guest, host, "before")
            acknowledged += ["before"] * [a["ok"] for a in acks].count(True)

            await redis_server.kill()
            refused = await guest.call("chat.send", {"text": "while down"}, wait=30)
            assert refused["ok"] is False and refused["error"]["code"] == "unavailable", refused

            await redis_server.start()
            # The guest on B is heard by the host on A again: fan-out across processes is back.
            acks, heard = await _send_until_heard(guest, host, "after")
            assert heard["text"] == "after" and heard["participant_id"] == guest.participant_id
            acknowledged += ["after"] * [a["ok"] for a in acks].count(True)
        finally:
            await host.close()
            await guest.close()
    # Both processes stopped cleanly (their writers flushed): every acknowledged message is in the log, once.
    engine = create_engine(postgres_url)
    try:
        texts = [e.data["text"] for e in await session_events(engine, room.session_id, (EventType.CHAT_MESSAGE,))]
    finally:
        await engine.dispose()
    assert texts == acknowledged == ["before", "after"]
