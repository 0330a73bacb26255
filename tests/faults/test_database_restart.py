"""PostgreSQL restarts under a live webinar: the room goes on, the writers keep their rows, nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from live.db.engine import create_engine, session_factory, upgrade
from live.db.tables import PollVote
from live.events.model import EventType
from live.events.store import session_events
from live.events.writer import EventWriter
from live.polls.writer import POLL_WRITER
from live.typedefs import EVENT_WRITER
from tests.conftest import ServerFactory, add_staff
from tests.faults.support import ThrowawayPostgres
from tests.rooms.support import connect, make_room


@pytest.fixture
async def postgres() -> AsyncIterator[ThrowawayPostgres]:
    cluster = await asyncio.to_thread(ThrowawayPostgres)
    try:
        await asyncio.to_thread(cluster.start)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.remove)


async def _until(condition: object, what: str, wait: float = 60.0) -> None:
    """Polls until `condition()` is true; the bound only stops a broken run from hanging."""
    assert callable(condition)
    for _ in range(int(wait / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def test_chat_and_votes_acknowledged_while_postgres_is_down_are_written_once_it_is_back(
    make_server: ServerFactory, postgres: ThrowawayPostgres
) -> None:
    await postgres.create_database("live")
    url = postgres.url("live")
    await upgrade(url)
    server = await make_server(url)
    host_member = await add_staff(url, "host@example.com", "host")
    room = await make_room(url, server.settings.secret_key, host_member.id)
    host = await connect(server.url, host_member.token, room.session_id)
    guest = await connect(server.url, room.guests[0].token, room.session_id)
    try:
        poll = await host.call("poll.open", {"question": "Ready?", "options": ["Yes", "No"]})
        assert poll["ok"] is True

        await asyncio.to_thread(postgres.stop)
        health = await server.request("GET", "/healthz")
        assert health.status == 200 and health.body["status"] == "degraded" and health.body["database"] == "unreachable"
        assert (await server.request("GET", "/readyz")).status == 503

        sent = [await guest.call("chat.send", {"text": f"while down {n}"}) for n in range(3)]
        assert all(ack["ok"] for ack in sent)
        assert (await guest.call("poll.vote", {"poll_id": poll["id"], "choices": [1]}))["ok"] is True
        # What needs the database at once is refused clearly, not failed as an internal error.
        refused = await host.call("session.start")
        assert refused["ok"] is False and refused["error"]["code"] == "unavailable", refused
        writer: EventWriter = server.app[EVENT_WRITER]
        await _until(lambda: writer.pending >= 3, "the chat waits in the event writer")
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a database that is gone
            await writer.flush()
        assert writer.pending >= 3  # a failed flush keeps its batch

        await asyncio.to_thread(postgres.start)
        await _until(lambda: writer.pending == 0 and server.app[POLL_WRITER].pending == 0, "the writers catch up")
        assert (await server.request("GET", "/readyz")).status == 200

        engine = create_engine(url)
        try:
            texts = [e.data["text"] for e in await session_events(engine, room.session_id, (EventType.CHAT_MESSAGE,))]
            assert texts == [f"while down {n}" for n in range(3)]
            async with session_factory(engine)() as db:
                votes = (await db.execute(select(PollVote.participant_id, PollVote.choices))).all()
            assert [tuple(v) for v in votes] == [(guest.participant_id, [1])]
        finally:
            await engine.dispose()
    finally:
        await host.close()
        await guest.close()
