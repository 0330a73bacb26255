"""Helpers for room tests: rooms built straight in the database, and Socket.IO clients that queue what they receive."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio
from pydantic import ValidationError

from live.db.engine import create_engine, session_factory
from live.db.tables import Account, Contact, Invitation, LiveSession
from live.rooms.outbound import OUTBOUND
from live.sessions.invitations import make_join_token

NAMESPACE = "/live"
TIMEOUT = 5.0
# Every event a test client receives is checked against its model in `live.rooms.outbound.OUTBOUND` the
# moment it arrives (an event with no model is a failure too): the tests double as protocol tests.
# What failed is kept here for the whole test run's autouse fixture (tests/conftest.py), which fails the
# test that received it, and on the client, whose `next` raises at once.
SCHEMA_VIOLATIONS: list[str] = []


@dataclass(frozen=True)
class Guest:
    contact_id: str
    name: str
    token: str

    @property
    def participant_id(self) -> str:
        return f"c_{self.contact_id}"


@dataclass(frozen=True)
class Room:
    session_id: str
    guests: list[Guest]


async def make_room(
    database_url: str,
    secret: str,
    host_id: str,
    *,
    guests: int = 2,
    kind: str = "webinar",
    status: str = "scheduled",
    title: str = "Quarterly roadmap",
    starts_in: timedelta = timedelta(minutes=5),
) -> Room:
    """A session hosted by `host_id` with `guests` invited contacts (names `Guest 1`...), straight in the database."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            account = Account(name="Acme", plan="pro", mrr=1000.0, ltv=40000.0, tier="low")
            db.add(account)
            await db.flush()
            session = LiveSession(
                kind=kind,
                title=title,
                starts_at=datetime.now(UTC) + starts_in,
                duration_minutes=60,
                host_id=host_id,
                status=status,
            )
            db.add(session)
            await db.flush()
            made = []
            for n in range(1, guests + 1):
                contact = Contact(account_id=account.id, name=f"Guest {n}", email=f"guest{n}@acme.test")
                db.add(contact)
                await db.flush()
                token = make_join_token(secret, session.id, contact.id)
                db.add(Invitation(session_id=session.id, contact_id=contact.id, token=token))
                made.append(Guest(contact.id, contact.name, token))
            await db.commit()
            return Room(session.id, made)
    finally:
        await engine.dispose()


@dataclass
class Client:
    """A real python-socketio client on `/live` that queues every event it receives, per event name."""

    sio: socketio.AsyncClient
    queues: dict[str, asyncio.Queue[Any]] = field(default_factory=lambda: defaultdict(asyncio.Queue))
    state: dict[str, Any] = field(default_factory=dict)
    # Called with (event, payload) for everything received, after the check (e.g. to record the order).
    listeners: list[Callable[[str, Any], None]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def participant_id(self) -> str:
        return str(self.state["you"]["participant_id"])

    async def receive(self, event: str, payload: Any) -> None:
        """Every event the server sends this client comes through here: checked, told, queued."""
        problem = schema_problem(event, payload)
        if problem is not None:
            self.violations.append(problem)
            SCHEMA_VIOLATIONS.append(problem)
        for listener in self.listeners:
            listener(event, payload)
        await self.queues[event].put(payload)

    def check(self) -> None:
        """Fails the test at once if anything this client received broke the protocol."""
        assert not self.violations, "\n".join(self.violations)

    async def next(self, event: str, wait: float = TIMEOUT) -> Any:
        payload = await asyncio.wait_for(self.queues[event].get(), wait)
        self.check()
        return payload

    async def next_where(self, event: str, wait: float = TIMEOUT, **match: Any) -> Any:
        """The next `event` whose payload has all the given key/values (earlier non-matching ones are dropped)."""
        async def find() -> Any:
            while True:
                payload = await self.queues[event].get()
                self.check()
                if all(payload.get(k) == v for k, v in match.items()):
                    return payload

        return await asyncio.wait_for(find(), wait)

    def pending(self, event: str) -> list[Any]:
        """Everything queued for `event` right now, without waiting."""
        items = []
        queue = self.queues[event]
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    async def call(self, event: str, *args: Any, wait: float = TIMEOUT) -> Any:
        """Emits with an ack and returns the ack (`sio.call`)."""
        data: Any = args[0] if len(args) == 1 else (tuple(args) if args else None)
        return await self.sio.call(event, data, namespace=NAMESPACE, timeout=wait)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


def schema_problem(event: str, payload: Any) -> str | None:
    """Why a received event breaks the protocol (no model for it, or a payload its model refuses), or None."""
    model = OUTBOUND.get(event)
    if model is None:
        return f"received {event!r}, which no model in live.rooms.outbound.OUTBOUND describes: {payload!r}"[:2000]
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        return f"received {event!r} not matching {model.__name__}: {exc}"[:4000]
    return None


def _new_client(errors: list[Any] | None = None) -> tuple[socketio.AsyncClient, Client]:
    sio = socketio.AsyncClient(reconnection=False)
    client = Client(sio)

    @sio.on("*", namespace=NAMESPACE)
    async def any_event(event: str, *args: Any) -> None:
        await client.receive(event, args[0] if len(args) == 1 else list(args))

    @sio.on("connect_error", namespace=NAMESPACE)
    async def connect_error(data: Any = None) -> None:
        if errors is not None:
            errors.append(data)

    return sio, client


async def connect(url: str, token: str | None, session_id: str, *, headers: dict[str, str] | None = None) -> Client:
    """A connected client that has received its `room.state` (kept in `client.state`)."""
    sio, client = _new_client()
    auth: dict[str, Any] = {"session": session_id}
    if token is not None:
        auth["token"] = token
    await sio.connect(url, auth=auth, namespaces=[NAMESPACE], transports=["websocket"], headers=headers or {},
                      wait_timeout=TIMEOUT)
    client.state = await client.next("room.state")
    return client


async def refusal(url: str, auth: Any, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The `connect_error` payload of a refused connection (fails the test if it was accepted)."""
    errors: list[Any] = []
    sio, client = _new_client(errors)
    try:
        await sio.connect(url, auth=auth, namespaces=[NAMESPACE], transports=["websocket"], headers=headers or {},
                          wait_timeout=TIMEOUT)
    except socketio.exceptions.ConnectionError:
        pass
    else:
        await client.close()
        raise AssertionError(f"connection with auth {auth!r} was accepted")
    finally:
        if sio.connected:
            await sio.disconnect()
    assert errors, "refused without a connect_error payload"
    return dict(errors[0])
