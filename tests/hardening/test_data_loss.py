"""One bad row never blocks the others: a session deleted under a live poll, the writers' isolation, the delete guard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import delete, select

from live.db.engine import create_engine, session_factory
from live.db.tables import LiveSession, PollVote
from live.events.model import EventType, LogEvent
from live.events.store import session_events
from live.events.writer import EventWriter
from live.metrics import Metrics
from live.polls.writer import POLL_WRITER
from live.typedefs import METRICS, ROOM_STATE
from tests.conftest import LiveServer, StaffMember
from tests.polls.test_handlers import open_poll
from tests.rooms.conftest import Connector
from tests.rooms.support import Room, make_room


async def _until_nobody_is_in(server: LiveServer, session_id: str) -> None:
    for _ in range(500):
        if not await server.app[ROOM_STATE].participants(session_id):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("people are still in the room")


async def test_a_session_with_people_in_its_room_cannot_be_deleted(
    sqlite_server: LiveServer, room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = sqlite_staff["host"]
    people = [
        await join(host.token, room.session_id),
        await join(room.guests[0].token, room.session_id),
        await join(room.guests[1].token, room.session_id),
    ]
    refused = await sqlite_server.request("DELETE", f"/api/v1/sessions/{room.session_id}", host.token)
    assert refused.status == 409
    assert refused.body["error"]["code"] == "room_not_empty"
    assert "3 people are in its room" in refused.body["error"]["message"]
    assert (await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}", host.token)).status == 200

    for person in people:
        await person.close()
    await _until_nobody_is_in(sqlite_server, room.session_id)
    assert (await sqlite_server.request("DELETE", f"/api/v1/sessions/{room.session_id}", host.token)).status == 200


async def test_a_vote_for_a_deleted_session_is_dropped_and_other_sessions_votes_are_still_saved(
    sqlite_server: LiveServer, room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    """The session goes from under a live poll (as an older server's DELETE allowed, or a cascade from its account)."""
    settings, host = sqlite_server.settings, sqlite_staff["host"]
    other = await make_room(settings.database_url, settings.secret_key, host.id, title="Other webinar")
    doomed_host = await join(host.token, room.session_id)
    doomed_guest = await join(room.guests[0].token, room.session_id)
    other_host = await join(host.token, other.session_id)
    other_guest = await join(other.guests[0].token, other.session_id)
    doomed_poll = await open_poll(doomed_host)
    other_poll = await open_poll(other_host)
    await sqlite_server.app[POLL_WRITER].flush()

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as db:
            await db.execute(delete(LiveSession).where(LiveSession.id == room.session_id))
            await db.commit()
        assert (await doomed_guest.call("poll.vote", {"poll_id": doomed_poll, "choices": [0]}))["ok"] is True
        assert (await other_guest.call("poll.vote", {"poll_id": other_poll, "choices": [2]}))["ok"] is True
        await sqlite_server.app[POLL_WRITER].flush()

        polls = await sqlite_server.request("GET", f"/api/v1/sessions/{other.session_id}/polls", host.token)
        assert polls.status == 200, polls.text
        assert polls.body[0]["counts"] == [0, 0, 1]
        assert (await sqlite_server.request("GET", f"/api/v1/sessions/{other.session_id}", host.token)).status == 200
        async with session_factory(engine)() as db:
            votes = (await db.execute(select(PollVote.poll_id, PollVote.choices))).all()
        assert [tuple(v) for v in votes] == [(other_poll, [2])]
        assert sqlite_server.app[POLL_WRITER].pending == 0
        dropped = sqlite_server.app[METRICS].writer_dropped.labels("poll-writer")._value.get()
        assert dropped == 1
    finally:
        await engine.dispose()


def _event(n: int, data: dict[str, object]) -> LogEvent:
    return LogEvent("s1", EventType.CHAT_MESSAGE, datetime(2026, 1, 1, 0, 0, n, tzinfo=UTC), "c_1", data)


async def test_an_event_the_database_refuses_is_dropped_alone_and_the_rest_of_its_batch_is_written(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    metrics = Metrics()
    writer = EventWriter(engine, interval=60, metrics=metrics)
    good = [_event(n, {"id": f"m{n}", "text": "hello"}) for n in range(3)]
    writer.append(good[0])
    writer.append(_event(9, {"id": "bad", "text": {1, 2}}))  # a set is no JSON: the driver cannot bind it
    writer.append(good[1])
    writer.append(good[2])
    try:
        assert await writer.flush() == 3
        assert writer.pending == 0
        assert await session_events(engine, "s1") == good
        assert metrics.writer_dropped.labels("event-writer")._value.get() == 1
        assert metrics.events_written._value.get() == 3
    finally:
        await writer.close()
        await engine.dispose()
