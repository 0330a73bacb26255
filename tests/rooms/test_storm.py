"""Join storms: a process answers joins from what it read once, yet never admits whom it must refuse, and the
hosts hear every arrival, batched over Redis, once and before anything that person does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from sqlalchemy import event

from live.rooms.joincache import JOIN_CACHE
from live.typedefs import ENGINE
from tests.conftest import REDIS_URL, LiveServer, ServerFactory, add_staff
from tests.rooms.support import NAMESPACE, TIMEOUT, Client, Room, connect, make_room, refusal


async def two_processes(make_server: ServerFactory, database_url: str) -> tuple[LiveServer, LiveServer]:
    """Two apps on one database and one Redis, as two `live serve` behind a load balancer."""
    a = await make_server(database_url, redis_url=REDIS_URL)
    b = await make_server(database_url, redis_url=REDIS_URL, secret_key=a.settings.secret_key)
    return a, b


async def test_a_storm_of_invited_attendees_reads_the_invitations_once(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    server = await make_server(sqlite_url)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, server.settings.secret_key, host.id, guests=12)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = server.app[ENGINE].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        guests = await asyncio.gather(*(connect(server.url, g.token, room.session_id) for g in room.guests))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    try:
        assert sorted(c.state["you"]["name"] for c in guests) == sorted(g.name for g in room.guests)
        assert {c.state["you"]["role"] for c in guests} == {"attendee"}
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "invitations" in s]
        assert len(reads) == 1, reads  # one read for the whole storm, not one per join
    finally:
        await asyncio.gather(*(c.close() for c in guests))


async def _refused_once_heard(url: str, auth: dict[str, str]) -> dict[str, Any]:
    """Connects until refused (the change travels to this process over Redis in a moment); the refusal."""
    errors: list[Any] = []
    for _ in range(100):
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("connect_error", errors.append, namespace=NAMESPACE)
        try:
            await sio.connect(url, auth=auth, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=TIMEOUT)
        except socketio.exceptions.ConnectionError:
            assert errors, "refused without a connect_error payload"
            return dict(errors[0])
        await sio.disconnect()
        await asyncio.sleep(0.1)
    raise AssertionError("still admitted")


@pytest.mark.redis
async def test_a_link_withdrawn_on_one_process_stops_working_on_the_other(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    a, b = await two_processes(make_server, sqlite_url)
    b.app[JOIN_CACHE].ttl = 3600.0  # only hearing of the change can make B forget what it read
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    room = await make_room(sqlite_url, a.settings.secret_key, admin.id, guests=2)
    first = await connect(b.url, room.guests[0].token, room.session_id)  # B has read every invitation now
    try:
        withdrawn = room.guests[1]
        gone = await a.request("DELETE", f"/api/v1/sessions/{room.session_id}/invitations/{withdrawn.contact_id}", admin.token)
        assert gone.status == 204
        error = await _refused_once_heard(b.url, {"token": withdrawn.token, "session": room.session_id})
        assert error["code"] == "invalid_token"
        # Withdrawn on B itself: refused at once.
        gone = await b.request("DELETE", f"/api/v1/sessions/{room.session_id}/invitations/{room.guests[0].contact_id}", admin.token)
        assert gone.status == 204
        error = await refusal(b.url, {"token": room.guests[0].token, "session": room.session_id})
        assert error["code"] == "invalid_token"
    finally:
        await first.close()


@pytest.mark.redis
async def test_after_the_end_on_one_process_an_attendee_is_refused_on_the_other_at_once(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    a, b = await two_processes(make_server, sqlite_url)
    b.app[JOIN_CACHE].ttl = 3600.0
    host_member = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, a.settings.secret_key, host_member.id, guests=2)
    host = await connect(a.url, host_member.token, room.session_id)
    early = await connect(b.url, room.guests[0].token, room.session_id)  # B has read the session as scheduled
    try:
        assert (await host.call("session.start", {"force": True}))["ok"] is True
        assert (await host.call("session.end"))["ok"] is True
        # No waiting: the end is in room state before its ack, and every join checks room state.
        error = await refusal(b.url, {"token": room.guests[1].token, "session": room.session_id})
        assert error["code"] == "session_ended"
        staff = await connect(b.url, host_member.token, room.session_id)  # staff may still open it
        assert staff.state["session"]["status"] == "ended"
        await staff.close()
    finally:
        await host.close()
        await early.close()


class Recorder:
    """A host's client that keeps every event it receives in one ordered list."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.seen: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()

        @self.sio.on("*", namespace=NAMESPACE)
        async def any_event(name: str, data: Any = None) -> None:
            self.seen.append((name, data))
            self.changed.set()

    async def wait_for(self, check: Any) -> None:
        async def until() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), TIMEOUT * 2)

    def ids(self, name: str) -> list[str]:
        return [data["participant_id"] for event_name, data in self.seen if event_name == name]


@pytest.mark.redis
async def test_on_two_processes_the_host_hears_each_arrival_once_and_before_what_the_newcomer_does(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    a, b = await two_processes(make_server, sqlite_url)
    host_member = await add_staff(sqlite_url, "host@example.com", "host")
    room: Room = await make_room(sqlite_url, a.settings.secret_key, host_member.id, guests=8)
    host = Recorder()
    await host.sio.connect(
        a.url, auth={"token": host_member.token, "session": room.session_id}, namespaces=[NAMESPACE],
        transports=["websocket"], wait_timeout=TIMEOUT,
    )  # fmt: skip
    guests: list[Client] = []
    try:
        await host.wait_for(lambda: any(n == "room.state" for n, _ in host.seen))
        guests = list(await asyncio.gather(*(connect(b.url, g.token, room.session_id) for g in room.guests)))
        last = guests[-1]
        assert (await last.call("hand.raise"))["ok"] is True
        everyone = sorted(g.participant_id for g in room.guests)
        await host.wait_for(lambda: sorted(host.ids("presence.joined")) == everyone and host.ids("hand.raised"))
        names = [(n, d["participant_id"]) for n, d in host.seen if n in ("presence.joined", "hand.raised")]
        assert names.index(("presence.joined", last.participant_id)) < names.index(("hand.raised", last.participant_id))

        await asyncio.gather(*(g.close() for g in guests))
        await host.wait_for(lambda: sorted(host.ids("presence.left")) == everyone)
        assert sorted(host.ids("presence.joined")) == everyone  # each arrival heard once
    finally:
        await asyncio.gather(*(g.close() for g in guests))
        await host.sio.disconnect()
