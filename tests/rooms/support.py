"""Helpers for room tests: rooms built straight in the database, and Socket.IO clients that queue what they receive."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio
from pydantic import BaseModel

from live.chat.events import EMITTED as CHAT_EMITTED
from live.db.engine import create_engine, session_factory
from live.db.tables import Account, Contact, Invitation, LiveSession
from live.media.events import EMITTED as MEDIA_EMITTED
from live.media.janus.events import EMITTED as JANUS_EMITTED
from live.polls.events import EMITTED as POLL_EMITTED
from live.recordings.events import EMITTED as RECORDING_EMITTED
from live.rooms.events import EMITTED as ROOM_EMITTED
from live.sessions.invitations import make_join_token
from live.speakers.events import EMITTED as SPEAKER_EMITTED

NAMESPACE = "/live"
TIMEOUT = 5.0
# Every event a client receives is checked against its schema: the tests double as schema tests.
# Every event the server emits has a schema; every event a test client receives is checked against it.
SCHEMAS: dict[str, type[BaseModel]] = {
    **ROOM_EMITTED,
    **CHAT_EMITTED,
    **POLL_EMITTED,
    **MEDIA_EMITTED,
    **JANUS_EMITTED,
    **RECORDING_EMITTED,
    **SPEAKER_EMITTED,
}


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

    @property
    def participant_id(self) -> str:
        return str(self.state["you"]["participant_id"])

    async def next(self, event: str, wait: float = TIMEOUT) -> Any:
        payload = await asyncio.wait_for(self.queues[event].get(), wait)
        check_schema(event, payload)
        return payload

    async def next_where(self, event: str, wait: float = TIMEOUT, **match: Any) -> Any:
        """The next `event` whose payload has all the given key/values (earlier non-matching ones are dropped)."""
        async def find() -> Any:
            while True:
                payload = await self.queues[event].get()
                check_schema(event, payload)
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


def check_schema(event: str, payload: Any) -> None:
    model = SCHEMAS.get(event)
    if model is not None:
        model.model_validate(payload)


def _new_client(errors: list[Any] | None = None) -> tuple[socketio.AsyncClient, Client]:
    sio = socketio.AsyncClient(reconnection=False)
    client = Client(sio)

    @sio.on("*", namespace=NAMESPACE)
    async def any_event(event: str, *args: Any) -> None:
        await client.queues[event].put(args[0] if len(args) == 1 else list(args))

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
