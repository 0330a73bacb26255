"""Real `live serve` processes: two on one Postgres and Redis act as one room; SIGTERM loses no acked event."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest
import socketio

from live.db.engine import create_engine
from live.events.model import EventType
from live.events.store import session_events
from tests.conftest import REDIS_URL, add_staff, free_port
from tests.rooms.support import Client, connect, make_room

REPO = Path(__file__).resolve().parents[2]


def _spawn(tmp_path: Path, port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    log = open(tmp_path / f"serve-{port}.log", "wb")  # the caller closes it
    proc = subprocess.Popen(
        [sys.executable, "-m", "live", "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    return proc, log


@asynccontextmanager
async def serve(
    tmp_path: Path, database_url: str, secret: str, redis_url: str | None = None, extra_env: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m live serve` on a free port, ready when /healthz answers; stopped with SIGTERM."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIVE_DATABASE_URL": database_url,
        "LIVE_SECRET_KEY": secret,
        "LIVE_PUBLIC_URL": url,
        "LIVE_VAR_DIR": str(tmp_path / f"var-{port}"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("LIVE_REDIS_URL", None)
    if redis_url:
        env["LIVE_REDIS_URL"] = redis_url
    env.update(extra_env or {})
    proc, log = _spawn(tmp_path, port, env)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                if proc.poll() is not None:
                    raise AssertionError(f"live serve exited: {(tmp_path / f'serve-{port}.log').read_text()[-3000:]}")
                with suppress(aiohttp.ClientError):
                    async with http.get(url + "/healthz") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("live serve did not become healthy")
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


async def close_all(*clients: Client) -> None:
    for client in clients:
        await client.close()


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_processes_on_one_postgres_and_redis_act_as_one_room(tmp_path: Path, postgres_url: str) -> None:
    secret = "shared-" + uuid.uuid4().hex
    host = await add_staff(postgres_url, "host@example.com", "host")
    room = await make_room(postgres_url, secret, host.id, guests=2)
    async with serve(tmp_path, postgres_url, secret, REDIS_URL) as (a_url, _), serve(
        tmp_path, postgres_url, secret, REDIS_URL
    ) as (b_url, _):
        on_a = await connect(a_url, host.token, room.session_id)
        guest_a = await connect(a_url, room.guests[0].token, room.session_id)
        guest_b = await connect(b_url, room.guests[1].token, room.session_id)
        try:
            # Presence agrees: B's joiner sees A's host (a webinar's audience sees the hosts, not each
            # other), A's host hears B's arrival, and a host joining on B sees everyone on both.
            assert {p["participant_id"] for p in guest_b.state["participants"]} == {
                on_a.participant_id, guest_b.participant_id
            }
            await on_a.next_where("presence.joined", participant_id=guest_b.participant_id)
            co_host = await connect(b_url, (await add_staff(postgres_url, "csm@example.com", "csm")).token, room.session_id)
            assert {p["participant_id"] for p in co_host.state["participants"]} == {
                on_a.participant_id, guest_a.participant_id, guest_b.participant_id, co_host.participant_id
            }
            await co_host.close()

            # Chat on one process is seen on the other.
            ack = await guest_a.call("chat.send", {"text": "hello from A"})
            seen = await guest_b.next("chat.message")
            assert seen["id"] == ack["id"] and seen["text"] == "hello from A"

            # Hands agree.
            await guest_b.call("hand.raise")
            assert await on_a.next("hand.raised") == {"participant_id": guest_b.participant_id}
            late = await connect(a_url, room.guests[0].token, room.session_id)
            assert late.state["hands"] == [guest_b.participant_id]
            assert [m["id"] for m in late.state["chat"]] == [ack["id"]]
            await late.close()

            # Going live on A reaches B; an upvote on B counts once across both.
            await on_a.call("session.start")
            await guest_b.next("session.started")
            asked = await guest_a.call("qa.ask", {"text": "one room?"})
            assert (await guest_b.call("qa.upvote", {"id": asked["id"]}))["upvotes"] == 1

            # Leaving on B is announced on A.
            await guest_b.close()
            await on_a.next_where("presence.left", participant_id=guest_b.participant_id)
        finally:
            await close_all(on_a, guest_a, guest_b)


BUSY = 200  # acked chat messages before the SIGTERM: well into the burst


async def _burst(
    client: Client,
    make: Callable[[int], tuple[str, dict[str, Any]]],
    acked: list[Any],
    stop: asyncio.Event,
    busy: asyncio.Event,
) -> None:
    n = 0
    while not stop.is_set():
        event, payload = make(n)
        n += 1
        try:
            ack = await client.call(event, payload, wait=2)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError, socketio.exceptions.DisconnectedError):
            return
        if ack.get("ok"):
            acked.append(ack.get("id", n))
            if len(acked) >= BUSY:
                busy.set()
        elif ack["error"]["code"] == "rate_limited":
            await asyncio.sleep(0.05)
        if not client.sio.connected:
            return


async def test_sigterm_mid_burst_loses_no_acknowledged_event(tmp_path: Path, sqlite_url: str) -> None:
    secret = "shared-" + uuid.uuid4().hex
    host = await add_staff(sqlite_url, "host@example.com", "host")
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    room = await make_room(sqlite_url, secret, host.id, guests=3)
    chats: list[Any] = []
    reactions: list[Any] = []
    async with serve(tmp_path, sqlite_url, secret) as (url, proc):
        staff = [await connect(url, host.token, room.session_id), await connect(url, csm.token, room.session_id)]
        guests = [await connect(url, g.token, room.session_id) for g in room.guests]
        stop, busy, never = asyncio.Event(), asyncio.Event(), asyncio.Event()
        tasks = [
            asyncio.create_task(_burst(c, lambda n: ("chat.send", {"text": f"<m{n}>"}), chats, stop, busy)) for c in staff
        ] + [
            asyncio.create_task(_burst(c, lambda n: ("reaction.send", {"kind": "heart"}), reactions, stop, never))
            for c in guests
        ]
        await asyncio.wait_for(busy.wait(), 30)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        stop.set()
        await asyncio.gather(*tasks)
        await close_all(*staff, *guests)

    engine = create_engine(sqlite_url)
    events = await session_events(engine, room.session_id)
    await engine.dispose()
    written_chat = {e.data["id"] for e in events if e.type is EventType.CHAT_MESSAGE}
    assert len(chats) >= BUSY and set(chats) <= written_chat
    assert len(reactions) <= sum(1 for e in events if e.type is EventType.REACTION)
    joins = sum(1 for e in events if e.type is EventType.JOINED)
    lefts = sum(1 for e in events if e.type is EventType.LEFT)
    assert joins == lefts == 5  # every connection's leaving was recorded at shutdown
