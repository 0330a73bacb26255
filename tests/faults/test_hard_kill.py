"""SIGKILL of one of two `live serve` processes: its people reconnect to the other and keep their ids; what the
dead process had acknowledged but not yet flushed (at most its last flush interval) is the only loss, and counted."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from live.db.engine import create_engine
from live.events.model import EventType
from live.events.store import session_events
from tests.conftest import add_staff
from tests.faults.support import ThrowawayRedis
from tests.rooms.support import connect, make_room
from tests.rooms.test_processes import serve


@pytest.mark.postgres
async def test_after_a_hard_kill_attendees_reconnect_to_the_other_process_as_themselves(
    tmp_path: Path, postgres_url: str
) -> None:
    secret = "shared-" + uuid.uuid4().hex
    redis = ThrowawayRedis()  # its own: the killed process's presence must not linger in a shared database
    await redis.start()
    try:
        await _run(tmp_path, postgres_url, secret, redis.url)
    finally:
        await redis.remove()


async def _run(tmp_path: Path, postgres_url: str, secret: str, redis_url: str) -> None:
    host_member = await add_staff(postgres_url, "host@example.com", "host")
    room = await make_room(postgres_url, secret, host_member.id, guests=2)
    acked: list[str] = []
    async with serve(tmp_path, postgres_url, secret, redis_url) as (a_url, a_proc), serve(
        tmp_path, postgres_url, secret, redis_url
    ) as (b_url, _):
        host = await connect(b_url, host_member.token, room.session_id)
        guests = [await connect(a_url, g.token, room.session_id) for g in room.guests]
        before = [g.participant_id for g in guests]
        talker = await connect(a_url, (await add_staff(postgres_url, "csm@example.com", "csm")).token, room.session_id)

        busy = asyncio.Event()

        async def talk() -> None:  # a co-host (never rate limited) chatting on A as fast as acks come back
            n = 0
            while True:
                ack: Any = await talker.call("chat.send", {"text": f"m{n}"}, wait=2)
                acked.append(ack["id"])
                n += 1
                if n >= 50:
                    busy.set()

        chatter = asyncio.create_task(talk())
        await asyncio.wait_for(busy.wait(), 60)
        a_proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(a_proc.wait, 30)
        with pytest.raises(Exception):  # noqa: B017 - the call in flight fails one way or another
            await chatter
        for client in (*guests, talker):
            await client.close()

        # As a load balancer would: the same join links, now to the process that is left.
        again = [await connect(b_url, g.token, room.session_id) for g in room.guests]
        assert [g.participant_id for g in again] == before
        assert (await again[0].call("chat.send", {"text": "back"}))["ok"] is True
        assert (await host.next_where("chat.message", text="back"))["participant_id"] == before[0]
        for client in (*again, host):
            await client.close()

    engine = create_engine(postgres_url)
    try:
        written = [e.data["id"] for e in await session_events(engine, room.session_id, (EventType.CHAT_MESSAGE,))]
    finally:
        await engine.dispose()
    from_a = [i for i in written if i in set(acked)]
    # The loss is a tail: everything written is the acknowledged messages in order, up to the kill.
    assert from_a == acked[: len(from_a)]
    lost = len(acked) - len(from_a)
    print(f"hard kill: {len(acked)} chat messages acknowledged by the killed process, {lost} lost")
