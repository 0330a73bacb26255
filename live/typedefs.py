"""Typed application keys: everything the app holds is reached through one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from live.settings import Settings

if TYPE_CHECKING:
    from live.events.writer import EventWriter
    from live.metrics import Metrics
    from live.rooms.dispatch import EventRegistry, StatePart
    from live.rooms.presence import Presence

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
# python-socketio's `AsyncServer`, which ships no types; capabilities outside `live.rooms` reach it as a
# `SocketEmitter` (`sio: SocketEmitter = app[SIO]`).
SIO: web.AppKey[Any] = web.AppKey("sio")
EVENT_WRITER: web.AppKey[EventWriter] = web.AppKey("event_writer")
# Live rooms: presence (in memory, or Redis; the other capabilities' state is in stores of their own), the
# Socket.IO event registry, and the parts of `room.state` other capabilities contribute
# (`app[ROOM_STATE_PARTS]["poll"] = fn`).
ROOM_STATE: web.AppKey[Presence] = web.AppKey("room_state")
ROOM_EVENTS: web.AppKey[EventRegistry] = web.AppKey("room_events")
ROOM_STATE_PARTS: web.AppKey[dict[str, StatePart]] = web.AppKey("room_state_parts")


class SocketEmitter(Protocol):
    """What a capability calls on the Socket.IO server (`app[SIO]`): send an event to one socket or a room."""

    async def emit(self, event: str, data: object = None, *, to: str | None = None, namespace: str | None = None) -> None:
        ...


class SessionStore(Protocol):
    """Per-session realtime state that is forgotten some time after the session ended."""

    async def session_ids(self) -> set[str]: ...

    async def drop_session(self, session_id: str) -> object: ...  # what it returns is not used


# Presence and the other capabilities' stores (chat's cache, the polls' board...) register here; see
# live.rooms.retention.
SESSION_STORES: web.AppKey[list[SessionStore]] = web.AppKey("session_stores")

from live.engagement.config import EngagementConfig  # noqa: E402

ENGAGEMENT = web.AppKey("engagement", EngagementConfig)
