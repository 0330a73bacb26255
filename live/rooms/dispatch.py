"""The `/live` event registry: event name -> payload model, who may send it, when, its rate limit and handler.

Any capability plugs its Socket.IO events in here (see docs/internals.md, "Adding a Socket.IO event"):

    registry.add("poll.open", open_poll, PollOpenIn, roles=STAFF, rate=RateKind.STAFF_ONLY)

    async def open_poll(ctx: Ctx, body: PollOpenIn) -> dict[str, Any] | None:
        ...                                   # check_ then do_ in the domain
        ctx.log(EventType.POLL_OPENED, {...})  # queued, never awaited
        await ctx.emit(PollOpenedOut(...))     # to the whole session: a `ServerEvent` model, never a dict
        return {"id": poll_id}                 # merged into the ack {"ok": true, ...}

The namespace validates the payload, checks the role, the session status and the rate limit
before the handler runs, and turns any `LiveError` into an `{ok: false, error}` ack.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from live.events.model import EventType, LogEvent
from live.rooms.fanout import REFUSE_UNHEARD
from live.rooms.model import EVERYONE, Participant, RateKind, RoomRole, check_rate_kind, is_staff_id
from live.rooms.server_events import ServerEvent, send
from live.sessions.model import SessionKind
from live.typedefs import EVENT_WRITER, ROOM_STATE, SETTINGS

if TYPE_CHECKING:
    from live.rooms.presence import Presence
    from live.settings import Settings

M = TypeVar("M", bound=BaseModel)

# Statuses in which an event is accepted unless its registration says otherwise: the waiting room
# before the host goes live works like the live room; once ended, the room is read-only.
OPEN_STATUSES = frozenset({"scheduled", "live"})
ANY_STATUS = frozenset({"scheduled", "live", "ended"})


class Payload(BaseModel):
    """Base of every client payload: unknown keys refused, no type coercion, strings kept as sent."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Empty(Payload):
    pass


def session_room(session_id: str) -> str:
    """The Socket.IO room of every connection in a session."""
    return f"s:{session_id}"


def person_room(session_id: str, participant_id: str) -> str:
    """The Socket.IO room of one person's connections (tabs) in a session, on every process."""
    return f"p:{session_id}:{participant_id}"


def staff_room(session_id: str) -> str:
    """The Socket.IO room of the host's and co-hosts' connections: what only they should see."""
    return f"staff:{session_id}"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ctx:
    """What a handler gets: who sent the event on which socket, and the room's tools."""

    app: web.Application
    sio: Any
    namespace: str
    sid: str
    me: Participant
    session: dict[str, Any]  # {id, kind, title, host_id}: fixed for the session's life

    @property
    def session_id(self) -> str:
        return self.me.session_id

    @property
    def state(self) -> Presence:
        """Presence: who is here and what they show (each capability's own state is in its store)."""
        return self.app[ROOM_STATE]

    @property
    def settings(self) -> Settings:
        return self.app[SETTINGS]

    def log(self, type: EventType, data: dict[str, Any] | None = None, at: datetime | None = None) -> datetime:
        """Queues an event-log row by this participant (never waits on the database); returns its time."""
        at = at or now()
        self.app[EVENT_WRITER].append(
            LogEvent(session_id=self.session_id, type=type, at=at, participant_id=self.me.participant_id, data=data or {})
        )
        return at

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Runs work after the ack (e.g. the session-ended hooks); awaited on shutdown."""
        spawn(self.app, coro)

    async def status(self) -> str:
        return await session_status(self.app, self.session_id)

    async def emit(self, message: ServerEvent, *, skip_me: bool = False) -> None:
        """To every connection in the session (on every process)."""
        await send(
            self.sio,
            message,
            to=session_room(self.session_id),
            namespace=self.namespace,
            skip_sid=self.sid if skip_me else None,
        )

    async def emit_to_staff(self, message: ServerEvent) -> None:
        """To the host's and co-hosts' connections (on every process)."""
        await send(self.sio, message, to=staff_room(self.session_id), namespace=self.namespace)

    async def emit_to(self, participant_id: str, message: ServerEvent) -> None:
        """To every connection of one person (on every process)."""
        await send(self.sio, message, to=person_room(self.session_id, participant_id), namespace=self.namespace)

    @property
    def broadcasts(self) -> bool:
        """A webinar or welcome seminar: the audience sees the hosts, not each other."""
        return SessionKind(self.session["kind"]).broadcasts

    async def emit_about(self, participant_id: str, message: ServerEvent) -> None:
        """A change of one person's own state (a hand, camera and mic): to everyone who can see that person.
        In a webinar an audience member is seen by the hosts only, so it goes to the staff and to that
        person's own tabs, not to thousands of others (one attendee must not be able to flood the room)."""
        if self.broadcasts and not is_staff_id(participant_id):
            await self.emit_to_staff(message)
            await self.emit_to(participant_id, message)
        else:
            await self.emit(message)


async def session_status(app: web.Application, session_id: str) -> str:
    """The status every process agrees on (the namespace seeds it from the database at first join).

    Cached per process and dropped on every change (`Presence.status`); a change made on another
    process is heard within milliseconds, at most `live.rooms.presence.STATUS_TTL` if its message was lost.
    Where that window matters the check is repeated atomically with the change (a vote: `poll.vote`'s
    board script refuses once the session has ended).
    """
    return await app[ROOM_STATE].status(session_id) or "scheduled"


Handler = Callable[[Ctx, Any], Awaitable[dict[str, Any] | None]]
StatePart = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True)
class EventSpec(Generic[M]):
    name: str
    handler: Callable[[Ctx, M], Awaitable[dict[str, Any] | None]]
    model: type[M]
    roles: frozenset[RoomRole]
    statuses: frozenset[str]
    rate: RateKind


# Awaited before a connection is accepted, e.g. to fill a room's cache from the event log.
JoinHook = Callable[[web.Application, str], Awaitable[None]]
# Awaited once a connection is admitted and has joined the session's rooms, before its `room.state`,
# as `hook(app, participant, session)` (`session` is `Ctx.session`); e.g. a one-on-one goes live.
EnterHook = Callable[[web.Application, Participant, dict[str, Any]], Awaitable[None]]
# Awaited after a connection of this process has gone (disconnect, removal, shutdown), as
# `hook(app, participant, sid, last)`; `last` is true when it was the person's last connection
# anywhere. E.g. media closes that person's peer connections.
LeaveHook = Callable[[web.Application, Participant, str, bool], Awaitable[None]]


class EventRegistry:
    """Event name -> `EventSpec`; one per app (`app[ROOM_EVENTS]`), plus hooks run on every join and leave."""

    def __init__(self) -> None:
        self._specs: dict[str, EventSpec[Any]] = {}
        self.on_join: list[JoinHook] = []
        self.on_enter: list[EnterHook] = []
        self.on_leave: list[LeaveHook] = []

    def add(
        self,
        name: str,
        handler: Callable[[Ctx, M], Awaitable[dict[str, Any] | None]],
        model: type[M],
        *,
        rate: RateKind,
        roles: Iterable[RoomRole] = EVERYONE,
        statuses: Iterable[str] = OPEN_STATUSES,
    ) -> None:
        """`rate` is required: every event an attendee can send costs a token of its kind (see `RateKind`)."""
        check_rate_kind(name, roles, rate)
        if name in self._specs:
            raise ValueError(f"Socket.IO event {name!r} is already registered.")
        if name in ("connect", "disconnect", "connect_error"):
            raise ValueError(f"{name!r} is reserved by Socket.IO.")
        self._specs[name] = EventSpec(name, handler, model, frozenset(roles), frozenset(statuses), RateKind(rate))

    def get(self, name: str) -> EventSpec[Any] | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)


# Background work of the rooms (welcomes, session-ended hooks), awaited on shutdown.
ROOM_TASKS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("room_tasks")


def spawn(app: web.Application, coro: Coroutine[Any, Any, Any]) -> None:
    # Background work is no client event's: its emits keep python-socketio's behaviour (see fanout.py).
    context = contextvars.copy_context()
    context.run(REFUSE_UNHEARD.set, False)
    task = asyncio.get_running_loop().create_task(coro, context=context)
    tasks = app[ROOM_TASKS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def monotonic() -> float:
    return time.monotonic()
