"""A session's realtime state (Redis keys, or the process's memory) is forgotten a day after it ended;
what users read afterwards comes from the database and stays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis

from live.rooms.retention import forget_ended_sessions
from live.typedefs import ROOM_STATE, SESSION_STORES
from tests.conftest import REDIS_URL, ServerFactory, add_staff
from tests.rooms.support import connect, make_room


async def redis_keys(session_id: str) -> list[str]:
    client: Any = redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted([key async for key in client.scan_iter(match=f"live:{session_id}:*")])
    finally:
        await client.aclose()


async def nobody_left(app: Any, session_id: str) -> None:
    """Waits until the server has processed the last disconnect of the session."""
    for _ in range(100):
        if not await app[ROOM_STATE].participants(session_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"people still present in {session_id}")


async def held(app: Any, session_id: str) -> bool:
    return any([session_id in await store.session_ids() for store in app[SESSION_STORES]])


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_an_ended_sessions_state_is_forgotten_after_the_retention_and_its_report_stays(
    make_server: ServerFactory, sqlite_url: str, backend: str
) -> None:
    # Seconds-long sessions: scored all the same (the "too short to score" rule is tested in tests/engagement).
    server = await make_server(
        sqlite_url,
        redis_url=REDIS_URL if backend == "redis" else None,
        engagement={"min_scored_minutes": 0, "min_scored_share": 0},
    )
    host_user = await add_staff(sqlite_url, "host@example.com", "host")
    ended = await make_room(sqlite_url, server.settings.secret_key, host_user.id, guests=1)
    running = await make_room(sqlite_url, server.settings.secret_key, host_user.id, guests=1, title="Still on")
    clients = []
    try:
        for room in (ended, running):
            host = await connect(server.url, host_user.token, room.session_id)
            guest = await connect(server.url, room.guests[0].token, room.session_id)
            clients += [host, guest]
            assert (await host.call("session.start", {}))["ok"] is True
            assert (await guest.call("chat.send", {"text": "hello"}))["ok"] is True
            poll = await host.call("poll.open", {"question": "Useful?", "options": ["yes", "no"]})
            assert (await guest.call("poll.vote", {"poll_id": poll["id"], "choices": [0]}))["ok"] is True
            assert (await guest.call("hand.raise", {}))["ok"] is True
        host, guest = clients[0], clients[1]
        assert (await host.call("session.end", {}))["ok"] is True
        await guest.next("session.ended")
        await guest.close()
        # The host is still in the ended room: its state stays, whatever the retention.
        assert await forget_ended_sessions(server.app, datetime.now(UTC) + timedelta(hours=25)) == []
        assert await held(server.app, ended.session_id)
        await host.close()
        await nobody_left(server.app, ended.session_id)
        if backend == "redis":
            assert await redis_keys(ended.session_id), "the ended session had Redis state to forget"
        assert await held(server.app, ended.session_id)

        # Within the retention nothing goes.
        assert await forget_ended_sessions(server.app, datetime.now(UTC) + timedelta(hours=23)) == []
        assert await held(server.app, ended.session_id)

        # After it, the ended session's state goes and the running one's stays.
        later = datetime.now(UTC) + timedelta(hours=25)
        assert await forget_ended_sessions(server.app, later) == [ended.session_id]
        assert not await held(server.app, ended.session_id)
        assert await held(server.app, running.session_id)
        if backend == "redis":
            assert await redis_keys(ended.session_id) == []
            assert await redis_keys(running.session_id)
        assert await forget_ended_sessions(server.app, later) == []

        # The running session is untouched: a guest who comes back finds their vote in the open poll.
        rejoined = await connect(server.url, running.guests[0].token, running.session_id)
        clients.append(rejoined)
        assert rejoined.state["poll"]["voted"] is True
        # What the host reads of the ended session comes from the database and is whole.
        polls = await server.request("GET", f"/api/v1/sessions/{ended.session_id}/polls", host_user.token)
        assert polls.status == 200
        assert [(p["question"], p["counts"]) for p in polls.body] == [("Useful?", [1, 0])]
        assert [vote["name"] for vote in polls.body[0]["votes"]] == ["Guest 1"]
        attendance = await server.request("GET", f"/api/v1/sessions/{ended.session_id}/attendance", host_user.token)
        assert attendance.status == 200, attendance.body
        guest_row = next(row for row in attendance.body if row["name"] == "Guest 1")
        assert (guest_row["chat_messages"], guest_row["poll_answers"], guest_row["hand_raises"]) == (1, 1, 1)
        assert len(guest_row["intervals"]) == 1 and guest_row["score"] is not None
    finally:
        for client in clients:
            await client.close()
