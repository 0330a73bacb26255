"""The `/live` Socket.IO namespace: refuses or admits connections, tracks presence, dispatches every event.

Every client event goes through `dispatch`: the registry (`live.rooms.dispatch`) names its payload
model, roles, statuses and rate limit; any refusal becomes an `{ok: false, error}` ack and never
an exception that would drop the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from live.errors import Forbidden, InvalidInput, LiveError, Unauthenticated, Unavailable, describe_validation_error
from live.events.model import EventType, LogEvent
from live.events.writer import WriterClosed
from live.rooms import join
from live.rooms.dispatch import (
    ROOM_TASKS,
    Ctx,
    EventRegistry,
    StatePart,
    now,
    person_room,
    session_room,
    session_status,
    spawn,
    staff_room,
)
from live.rooms.events import PresenceJoinedOut, PresenceLeftOut, RoomStateOut
from live.rooms.fanout import REFUSE_UNHEARD, AdmissionTracking, RefusingRedisManager
from live.rooms.joincache import JOIN_CACHE, JoinCache
from live.rooms.model import (
    STAFF,
    MediaState,
    Participant,
    RateKind,
    RateLimit,
    check_role,
    check_status,
    rate_limited,
)
from live.rooms.presence import MemoryPresence, Presence, RedisPresence, Swept
from live.rooms.retention import retention_ctx
from live.rooms.server_events import send
from live.rooms.wire import UNDECODABLE
from live.sessions.model import SessionKind
from live.settings import Settings
from live.typedefs import (
    DB,
    EVENT_WRITER,
    METRICS,
    ROOM_EVENTS,
    ROOM_STATE,
    ROOM_STATE_PARTS,
    SESSION_STORES,
    SETTINGS,
    SIO,
)

log = logging.getLogger(__name__)

NAMESPACE = "/live"
# Seconds the shutdown waits for in-flight work (welcomes, session-ended hooks) before closing.
SHUTDOWN_WAIT = 5.0


# python-socketio ships no type information: its classes are `Any` to mypy, hence the two ignores below.
class Refused(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """A refused connect; the client's `connect_error` gets `{message, code, data: {code, message}}`.

    Browsers read `err.message` and `err.data` (Socket.IO's convention); Python clients get the
    whole object, so `code` sits at the top level as well.
    """

    def __init__(self, error: LiveError) -> None:
        super().__init__(error.message)
        self.error_args = {"message": error.message, "code": error.code, "data": error.as_dict()}


class LiveNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        self.app = app
        settings = app[SETTINGS]
        self.limits = rate_limits(settings)
        # This process's sockets: sid -> (participant, session info). Socket.IO keeps sockets local.
        self.sockets: dict[str, tuple[Participant, dict[str, Any]]] = {}
        # Admitted sockets whose CONNECT Socket.IO has yet to send: sid -> first connection of the person?
        self.admitted: dict[str, bool] = {}

    @property
    def state(self) -> Presence:
        return self.app[ROOM_STATE]

    @property
    def registry(self) -> EventRegistry:
        return self.app[ROOM_EVENTS]

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            sid, environ, *rest = args
            return await self.on_connect(sid, environ, rest[0] if rest else None)
        if event == "disconnect":
            return await self.on_disconnect(args[0], args[1] if len(args) > 1 else "")
        return await self.dispatch(event, args[0], args[1:])

    # --- joining and leaving --------------------------------------------------------------
    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        """Admits or refuses a connection. A webinar's start is a storm of these, so the common case (an
        invited attendee) costs no database read (`join.from_cache`), the join hooks run once per session
        and process (`JoinCache.run_hooks`), and the room-state work is one Redis step (`Presence.admit`)."""
        settings = self.app[SETTINGS]
        cache = self.app[JOIN_CACHE]
        try:
            joining = await join.from_cache(cache, self.app[DB], settings.secret_key, auth)
            if joining is None:
                async with self.app[DB]() as db:
                    joining = await join.resolve(db, settings.secret_key, auth, environ.get("HTTP_COOKIE", ""))
            me = joining.participant
            # The hooks first: one of them reloads removals a restart forgot, which `admit` checks.
            await cache.run_hooks(me.session_id, lambda: self._join_hooks(me.session_id))
            writer = self.app[EVENT_WRITER]
            writer.ensure_open()  # refused before anything is recorded, as the append below would be
            admission = await self.state.admit(me, sid, joining.status)
            if admission.removed:
                raise LiveError("A host removed you from this session.", code="removed", status=403)
            if admission.ended:
                raise Forbidden(f"Session {joining.session['title']!r} has ended.", code="session_ended")
            writer.append(
                LogEvent(
                    me.session_id,
                    EventType.JOINED,
                    now(),
                    me.participant_id,
                    {"sid": sid, "role": me.role.value, "name": me.name}
                    | ({"contact_id": me.contact_id} if me.contact_id else {})
                    | ({"user_id": me.user_id} if me.user_id else {}),
                )
            )
        except LiveError as exc:
            log.info("refused a /live connection: %s (%s)", exc.message, exc.code)
            raise Refused(exc) from exc
        except Exception as exc:
            log.exception("refused a /live connection: internal error")
            raise Refused(LiveError("The server could not admit you; try again.", code="internal")) from exc
        self.sockets[sid] = (me, joining.session)
        log.info("%s %s: connected (%s)", me.session_id, me.participant_id, sid)
        self.app[METRICS].participants.inc()
        self.admitted[sid] = admission.first  # welcomed once Socket.IO has connected it (`connected`)

    def connected(self, sid: str, namespace: str) -> None:
        """The manager's word that Socket.IO sent `sid` its CONNECT: the welcome follows."""
        if namespace == NAMESPACE and sid in self.admitted:
            spawn(self.app, self.welcome(sid, self.admitted.pop(sid)))

    async def _join_hooks(self, session_id: str) -> None:
        for hook in self.registry.on_join:
            await hook(self.app, session_id)

    async def announce(
        self, message: PresenceJoinedOut | PresenceLeftOut, me: Participant, info: dict[str, Any], skip_sid: str | None = None
    ) -> None:
        """`presence.joined`/`presence.left` to whoever sees `me`. An audience member's go to the staff only;
        with Redis they are coalesced (`RefusingRedisManager.emit_soon`): a storm's thousands of arrivals
        make a few Redis messages, not one each."""
        room = presence_room(me, info)
        manager = self.server.manager
        if isinstance(manager, RefusingRedisManager) and audience_only_sees_staff(me, info):
            await manager.emit_soon(message.event, message.wire(), namespace=NAMESPACE, room=room, skip_sid=skip_sid)
        else:
            await send(self.server, message, to=room, namespace=NAMESPACE, skip_sid=skip_sid)

    async def welcome(self, sid: str, first: bool) -> None:
        """After Socket.IO accepts the connection: join its rooms, announce the person, send `room.state`.

        `presence.joined` goes out only once the newcomer's own rooms are joined, so whatever others send
        them in answer (an `rtc.signal` offer, say) reaches them."""
        entry = self.sockets.get(sid)
        if entry is None:  # gone meanwhile
            return
        me, info = entry
        await self.enter_room(sid, session_room(me.session_id))
        await self.enter_room(sid, person_room(me.session_id, me.participant_id))
        if me.role in STAFF:
            await self.enter_room(sid, staff_room(me.session_id))
        if first:
            await self.announce(PresenceJoinedOut.of(me), me, info, skip_sid=sid)
        for hook in self.registry.on_enter:
            try:
                await hook(self.app, me, info)
            except Exception:
                log.exception("%s %s: enter hook %r failed", me.session_id, me.participant_id, hook)
        try:
            state = await self.room_state(self.ctx(sid, me, info))
        except Exception:
            log.exception("%s %s: could not build room.state", me.session_id, me.participant_id)
            return
        # The socket is in this process (checked above): sent here, not published through Redis to
        # every process for all but this one to drop (a join storm's N room.states times P processes).
        await send(self.server, state, to=sid, namespace=NAMESPACE, ignore_queue=True)

    async def room_state(self, ctx: Ctx) -> RoomStateOut:
        """The room as `ctx.me` may see it; the parts other capabilities add are checked by the model too.

        The reads below do not depend on one another: issued together, they share Redis round trips
        (`live.autopipeline`), and so do those of every other join in the same moment."""
        parts: dict[str, StatePart] = self.app[ROOM_STATE_PARTS]
        people, status, *values = await asyncio.gather(
            self._people(ctx), ctx.status(), *(part(ctx) for part in parts.values())
        )
        info = ctx.session
        payload: dict[str, Any] = {
            "session": {"id": info["id"], "kind": info["kind"], "title": info["title"], "status": status},
            "you": {"participant_id": ctx.me.participant_id, "role": ctx.me.role.value, "name": ctx.me.name},
            "participants": people[0],
            "hands": people[1],
            "poll": None,
            "chat": [],
            "questions": [],
            "ice_servers": ctx.settings.ice_servers,
            "limits": {kind.value: {"burst": limit.burst, "rate": limit.rate} for kind, limit in self.limits.items()},
        }
        payload.update(zip(parts, values, strict=True))
        return RoomStateOut.model_validate(payload)

    async def _people(self, ctx: Ctx) -> tuple[list[dict[str, Any]], list[str]]:
        """`room.state`'s participants (with hands, camera/mic state and, for staff, attention) and hands."""
        session_id = ctx.session_id
        staff = ctx.me.role in STAFF
        hands, (present, media), focus = await asyncio.gather(
            self.state.hands(session_id),
            self._present(ctx),
            self.state.focus(session_id) if staff else _nothing(),
        )
        people = sorted(present, key=lambda p: (p.role != "host", p.name))
        participants: list[dict[str, Any]] = [
            {**p.public(), "hand_raised": p.participant_id in hands, **_media_of(media, p.participant_id)} for p in people
        ]
        if staff:
            # Attention is for the host's eyes: who has the page in view right now.
            for entry in participants:
                entry["visible"] = focus.get(entry["participant_id"], True)
        return participants, hands

    async def _present(self, ctx: Ctx) -> tuple[list[Participant], dict[str, MediaState]]:
        """Who `ctx.me` is shown, and their media state."""
        session_id = ctx.session_id
        if audience_only_sees_staff(ctx.me, ctx.session):
            # Read the staff and their media state only: reading the whole audience for each of N
            # joiners is O(N²) over Redis in a join storm.
            present = [*await self.state.staff(session_id), ctx.me]
            return present, await self.state.media(session_id, [p.participant_id for p in present])
        everyone, media = await asyncio.gather(self.state.participants(session_id), self.state.media(session_id))
        return everyone, media

    async def on_disconnect(self, sid: str, reason: Any) -> None:
        self.admitted.pop(sid, None)
        entry = self.sockets.pop(sid, None)
        if entry is None:
            return
        me, info = entry
        self.app[METRICS].participants.dec()
        try:
            self.app[EVENT_WRITER].append(
                LogEvent(me.session_id, EventType.LEFT, now(), me.participant_id, {"sid": sid, "reason": str(reason)})
            )
        except WriterClosed:
            log.warning("%s %s: left after the event writer closed", me.session_id, me.participant_id)
        last = await self.state.remove_connection(me.session_id, me.participant_id, sid)
        log.info("%s %s: disconnected (%s, %s)", me.session_id, me.participant_id, sid, reason)
        if last:
            await self.announce(PresenceLeftOut.of(me), me, info)
        for hook in self.registry.on_leave:
            try:
                await hook(self.app, me, sid, last)
            except Exception:
                log.exception("%s %s: leave hook %r failed", me.session_id, me.participant_id, hook)

    # --- events ---------------------------------------------------------------------------
    async def check_rate(self, me: Participant, kind: RateKind) -> None:
        """Hosts and co-hosts are never limited; an attendee spends a token of the event's kind."""
        if me.role.is_staff or kind is RateKind.STAFF_ONLY:
            return
        limit = self.limits[kind]
        wait = await self.state.take_token(me.session_id, me.participant_id, kind.value, limit.burst, limit.rate)
        if wait > 0:
            raise rate_limited(kind, limit, wait)

    def ctx(self, sid: str, me: Participant, info: dict[str, Any]) -> Ctx:
        return Ctx(app=self.app, sio=self.server, namespace=NAMESPACE, sid=sid, me=me, session=info)

    async def dispatch(self, event: str, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        spec = self.registry.get(event) if isinstance(event, str) else None
        label = spec.name if spec is not None else "unknown"
        try:
            if event == UNDECODABLE:
                raise InvalidInput(str(args[0]) if args else "The payload could not be read.")
            if spec is None:
                known = ", ".join(self.registry.names())
                raise InvalidInput(f"Unknown event {str(event)[:60]!r}; known events: {known}.", code="unknown_event")
            entry = self.sockets.get(sid)
            if entry is None:
                raise Unauthenticated("This connection has not joined a session.", code="not_joined")
            me, info = entry
            payload = _single_payload(args)
            try:
                body = spec.model.model_validate(payload)
            except ValidationError as exc:
                raise InvalidInput(describe_validation_error(exc)) from exc
            check_role(me.role, spec.roles, event)
            check_status(await session_status(self.app, me.session_id), spec.statuses, event)
            await self.check_rate(me, spec.rate)
            refusing = REFUSE_UNHEARD.set(True)  # an emit nobody hears fails this event (see fanout.py)
            try:
                result = await spec.handler(self.ctx(sid, me, info), body)
            finally:
                REFUSE_UNHEARD.reset(refusing)
            ack: dict[str, Any] = {"ok": True} | (result or {})
        except LiveError as exc:
            ack = exc.as_ack()
        except Exception as exc:
            refusal = unavailable(exc)
            if refusal is None:
                log.exception("/live event %r failed", label)
                ack = LiveError("The server failed to handle this event.", code="internal").as_ack()
            else:
                log.warning("/live event %r refused: %s (%s)", label, refusal.message, str(exc).split("\n", 1)[0])
                ack = refusal.as_ack()
        self.app[METRICS].socket_events.labels(label, "true" if ack["ok"] else "false").inc()
        return ack


def unavailable(exc: BaseException) -> Unavailable | None:
    """A clear refusal when a backing service is restarting or unreachable (what the event needed at once
    was not done; what is queued in the writers waits for the database), else None: a real bug."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return Unavailable("The room's shared state (Redis) is unreachable; try again in a moment.")
    if isinstance(exc, (ConnectionError, OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return Unavailable("The database is unreachable; try again in a moment.")
    return None


def _media_of(media: dict[str, MediaState], participant_id: str) -> dict[str, bool]:
    """`camera` and `mic` beside a person in `room.state`, once they have said (nothing before)."""
    state = media.get(participant_id)
    return {} if state is None else state.to_dict()


def _single_payload(args: tuple[Any, ...]) -> dict[str, Any]:
    """The event's one payload object; no payload at all counts as `{}` (e.g. `hand.raise`)."""
    if len(args) == 0 or (len(args) == 1 and args[0] is None):
        return {}
    if len(args) > 1:
        raise InvalidInput(f"Send one payload object, not {len(args)} arguments.")
    if not isinstance(args[0], dict):
        raise InvalidInput(f"The payload must be an object, not {type(args[0]).__name__}.")
    return args[0]


def setup(app: web.Application) -> None:
    """Registers `/live`, the core events (rooms and chat) and the state, start-up and shutdown hooks."""
    from live.chat import handlers as chat_handlers
    from live.rooms import handlers as room_handlers
    from live.rooms import lifecycle

    registry = EventRegistry()
    app[ROOM_EVENTS] = registry
    app[ROOM_TASKS] = set()
    # Other capabilities may have added their parts or hooks already; keep them.
    if ROOM_STATE_PARTS not in app:
        app[ROOM_STATE_PARTS] = {}
    if SESSION_STORES not in app:
        app[SESSION_STORES] = []
    room_handlers.register(app, registry)
    chat_handlers.register(app, registry)
    lifecycle.register(app, registry)
    namespace = LiveNamespace(app)
    sio: Any = app[SIO]
    sio.register_namespace(namespace)
    manager = sio.manager
    if not isinstance(manager, AdmissionTracking):
        raise TypeError(f"/live needs a manager that reports connects (live.rooms.fanout); got {type(manager).__name__}")
    manager.connected_listeners.append(namespace.connected)
    app[_NAMESPACE] = namespace
    app.cleanup_ctx.append(rooms_ctx)
    app.cleanup_ctx.append(retention_ctx)
    app.on_shutdown.append(_disconnect_everyone)


_NAMESPACE: web.AppKey[LiveNamespace] = web.AppKey("live_namespace")


async def _nothing() -> dict[str, bool]:
    return {}


def rate_limits(settings: Settings) -> dict[RateKind, RateLimit]:
    """Each attendee's limit per rate kind (`RateKind.STAFF_ONLY` has none: staff are never limited)."""
    return {
        RateKind.CHAT: RateLimit(settings.chat_burst, settings.chat_rate),
        RateKind.REACTION: RateLimit(settings.reaction_burst, settings.reaction_rate),
        RateKind.SIGNAL: RateLimit(settings.signal_burst, settings.signal_rate),
        RateKind.RTC: RateLimit(settings.rtc_burst, settings.rtc_rate),
        RateKind.VOTE: RateLimit(settings.vote_burst, settings.vote_rate),
        RateKind.QUERY: RateLimit(settings.query_burst, settings.query_rate),
    }


def audience_only_sees_staff(me: Participant, session: dict[str, Any]) -> bool:
    """In a webinar or welcome seminar an attendee sees the hosts, not the rest of the audience (as in Zoom
    webinars): announcing every arrival to everyone costs O(N²) when thousands join at once."""
    return SessionKind(session["kind"]).broadcasts and me.role not in STAFF


def presence_room(me: Participant, session: dict[str, Any]) -> str:
    """Who hears that `me` came or went: the whole session, or only its staff for an audience member."""
    return staff_room(me.session_id) if audience_only_sees_staff(me, session) else session_room(me.session_id)

async def rooms_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    state: Presence
    if settings.redis_url:
        state = RedisPresence(settings.redis_url)
        state.on_swept = lambda swept: _announce_swept(app, swept)
    else:
        state = MemoryPresence()
    await state.start()
    app[ROOM_STATE] = state
    app[JOIN_CACHE] = JoinCache(state)
    app[SESSION_STORES].append(state)
    yield
    # Connections this process still holds (a shutdown that could not disconnect them) are released.
    for conn in await state.local_connections():
        await state.remove_connection(conn.session_id, conn.participant_id, conn.sid)
    await state.close()


async def _announce_swept(app: web.Application, swept: list[Swept]) -> None:
    """Connections of a process that died: their leaving is logged and, for a person's last, announced."""
    sio: Any = app[SIO]
    for item in swept:
        conn = item.connection
        with contextlib.suppress(WriterClosed):
            app[EVENT_WRITER].append(
                LogEvent(conn.session_id, EventType.LEFT, now(), conn.participant_id, {"sid": conn.sid, "reason": "process gone"})
            )
        if item.left and item.participant is not None:
            await send(
                sio, PresenceLeftOut.of(item.participant), to=session_room(conn.session_id), namespace=NAMESPACE
            )


async def _disconnect_everyone(app: web.Application) -> None:
    """On shutdown: every local socket leaves (logged and announced) before the event writer's last flush."""
    namespace = app[_NAMESPACE]
    sio: Any = app[SIO]
    log.info("shutdown: closing %d /live connections", len(namespace.sockets))
    for sid in list(namespace.sockets):
        try:
            await sio.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)
        except Exception:
            log.exception("shutdown: could not disconnect %s", sid)
    tasks: set[asyncio.Task[Any]] = app[ROOM_TASKS]
    if tasks:
        await asyncio.wait(list(tasks), timeout=SHUTDOWN_WAIT)
    if isinstance(sio.manager, RefusingRedisManager):
        try:
            await sio.manager.release()  # the leaving announced to the staff on other processes now, not never
        except Exception:
            log.exception("shutdown: could not publish the last presence announcements")
    try:
        # Engine.IO's disconnect-all waits on an empty task set (ValueError) when nobody is left.
        if sio.eio.sockets:
            await sio.eio.disconnect()
    except Exception:
        log.exception("shutdown: could not close Engine.IO connections")
    log.info("shutdown: /live connections closed, %d background tasks left", len(tasks))


__all__ = ["NAMESPACE", "LiveNamespace", "setup"]
