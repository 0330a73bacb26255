"""One-on-ones run themselves: live once the CSM and a contact are in, ended (and scored) when everyone has
left and the grace period passed, never by a reload."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from live.bus import BUS
from live.db.engine import create_engine
from live.db.tables import LiveSession
from live.domain_events import SessionEnded
from live.events.model import EventType
from live.events.store import session_events
from live.rooms.lifecycle import ONE_ON_ONES
from live.typedefs import EVENT_WRITER
from tests.conftest import REDIS_URL, ServerFactory, add_staff
from tests.rooms.support import connect, make_room


async def session_row(database_url: str, session_id: str) -> Any:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(LiveSession).where(LiveSession.id == session_id))).one()
    finally:
        await engine.dispose()


async def test_a_one_on_one_goes_live_when_both_are_in_and_ends_by_itself_after_everyone_left(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    server = await make_server(sqlite_url, one_on_one_grace_seconds=0.5)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    room = await make_room(sqlite_url, server.settings.secret_key, csm.id, guests=1, kind="one_on_one")
    ended: list[SessionEnded] = []
    done = asyncio.Event()

    async def scored(app: Any, event: SessionEnded) -> None:
        ended.append(event)
        done.set()

    server.app[BUS].subscribe(SessionEnded, scored)
    staff_client = await connect(server.url, csm.token, room.session_id)
    assert staff_client.state["session"]["status"] == "scheduled"  # alone, the CSM waits
    guest = await connect(server.url, room.guests[0].token, room.session_id)
    started = await staff_client.next("session.started")
    assert started["id"] == room.session_id
    assert (await session_row(sqlite_url, room.session_id)).status == "live"

    await guest.close()
    await staff_client.close()
    await asyncio.wait_for(done.wait(), 30)
    assert [e.session_id for e in ended] == [room.session_id]
    row = await session_row(sqlite_url, room.session_id)
    assert row.status == "ended" and row.ended_at is not None
    await server.app[EVENT_WRITER].flush()
    log = await session_events(server.app[EVENT_WRITER]._engine, room.session_id)
    [end] = [e for e in log if e.type is EventType.SESSION_ENDED]
    assert end.participant_id is None and end.data == {"automatic": True}


async def test_a_reload_inside_the_grace_period_keeps_the_one_on_one_live(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    server = await make_server(sqlite_url, one_on_one_grace_seconds=600)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    room = await make_room(sqlite_url, server.settings.secret_key, csm.id, guests=1, kind="one_on_one")
    staff_client = await connect(server.url, csm.token, room.session_id)
    guest = await connect(server.url, room.guests[0].token, room.session_id)
    await guest.next("session.started")
    await guest.close()
    await staff_client.close()
    runs = server.app[ONE_ON_ONES]
    for _ in range(200):
        if room.session_id in runs.timers:
            break
        await asyncio.sleep(0.02)
    assert room.session_id in runs.timers  # the room is empty: the end is pending

    back = await connect(server.url, room.guests[0].token, room.session_id)
    try:
        assert back.state["session"]["status"] == "live"
        assert room.session_id not in runs.timers
        assert (await session_row(sqlite_url, room.session_id)).status == "live"
    finally:
        await back.close()


async def test_a_one_on_one_with_only_the_csm_or_only_contacts_stays_scheduled(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    server = await make_server(sqlite_url)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    room = await make_room(sqlite_url, server.settings.secret_key, csm.id, guests=2, kind="one_on_one")
    a = await connect(server.url, room.guests[0].token, room.session_id)
    b = await connect(server.url, room.guests[1].token, room.session_id)
    try:
        assert b.state["session"]["status"] == "scheduled"
        assert a.pending("session.started") == [] and b.pending("session.started") == []
        assert (await session_row(sqlite_url, room.session_id)).status == "scheduled"
    finally:
        await a.close()
        await b.close()


async def test_on_two_processes_a_one_on_one_starts_and_ends_by_the_people_both_see_in_redis(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    # The CSM is on process A and the contact on B; only Redis tells each who else is in.
    a = await make_server(sqlite_url, redis_url=REDIS_URL, one_on_one_grace_seconds=600)
    b = await make_server(
        sqlite_url, redis_url=REDIS_URL, one_on_one_grace_seconds=0.5, secret_key=a.settings.secret_key
    )
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    room = await make_room(sqlite_url, a.settings.secret_key, csm.id, guests=1, kind="one_on_one")
    done = asyncio.Event()

    async def scored(app: Any, event: SessionEnded) -> None:
        done.set()

    b.app[BUS].subscribe(SessionEnded, scored)
    staff_client = await connect(a.url, csm.token, room.session_id)
    guest = await connect(b.url, room.guests[0].token, room.session_id)
    await staff_client.next("session.started")
    await guest.next("session.started")

    await staff_client.close()  # the contact is still in (on B): nothing to end yet
    await guest.next_where("presence.left", participant_id=staff_client.participant_id)
    assert room.session_id not in a.app[ONE_ON_ONES].timers
    await guest.close()  # the last one out, on B: B's short grace ends it
    await asyncio.wait_for(done.wait(), 30)
    row = await session_row(sqlite_url, room.session_id)
    assert row.status == "ended"
