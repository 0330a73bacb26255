"""A session's lifecycle: going live and ending, by a host's click or, for a one-on-one, by itself.

Both paths are one: the sessions row moves with a conditional UPDATE (two hosts on two processes, or
a host and the automatic end, cannot both win), every process hears the new status, the room hears
`session.started` / `session.ended`, and the domain event goes on the bus (media, polls and scoring
react to `SessionEnded`; their order is read in `live.app`).

A one-on-one needs no button: it goes live once a staff member and a contact are both in, and ends
`one_on_one_grace_seconds` after the last person left, so a reload or a dropped connection does not
end it. The grace timer lives in the process where the room emptied; whoever enters again clears the
room's empty mark (`Presence.set_empty_mark`), so a timer whose mark is gone (someone came back, perhaps on another process)
does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import update

from live.bus import BUS
from live.db.tables import LiveSession
from live.domain_events import SessionEnded, SessionStarted
from live.errors import Conflict, NotFound
from live.events.model import EventType, LogEvent
from live.rooms.dispatch import EventRegistry, now, session_room, session_status, spawn
from live.rooms.events import SessionEndedOut, SessionStartedOut
from live.rooms.model import Participant, one_on_one_can_start
from live.rooms.namespace import NAMESPACE
from live.rooms.server_events import ServerEvent, send
from live.sessions.model import SessionKind, SessionStatus
from live.typedefs import DB, EVENT_WRITER, ROOM_STATE, SETTINGS, SIO

log = logging.getLogger(__name__)

async def transition(app: web.Application, session_id: str, to: SessionStatus, by: str | None) -> datetime:
    """Moves the sessions row with a conditional UPDATE; `by` is the participant who asked (None: automatic)."""
    at = now()
    async with app[DB]() as db:
        row = await db.get(LiveSession, session_id)
        if row is None:
            raise NotFound(f"Session {session_id!r} does not exist.")
        current = SessionStatus(row.status)
        current.transition(to)  # refuses an illegal move, naming both states
        values: dict[str, Any] = {"status": to.value}
        values["started_at" if to is SessionStatus.LIVE else "ended_at"] = at
        result = await db.execute(
            update(LiveSession)
            .where(LiveSession.id == session_id, LiveSession.status == current.value)
            .values(**values)
        )
        if getattr(result, "rowcount", 1) != 1:
            await db.rollback()
            # Another host (perhaps on another process), or the automatic start or end, moved it first.
            raise Conflict(f"Session is no longer '{current.value}' and cannot become '{to.value}'.", code="bad_status")
        await db.commit()
    await app[ROOM_STATE].set_status(session_id, to.value)
    kind = EventType.SESSION_STARTED if to is SessionStatus.LIVE else EventType.SESSION_ENDED
    app[EVENT_WRITER].append(LogEvent(session_id, kind, at, by, {} if by else {"automatic": True}))
    return at


async def go_live(app: web.Application, session_id: str, by: str | None) -> datetime:
    at = await transition(app, session_id, SessionStatus.LIVE, by)
    await _emit(app, session_id, SessionStartedOut(id=session_id, at=at))
    spawn(app, app[BUS].publish(SessionStarted(session_id, at)))
    return at


async def end(app: web.Application, session_id: str, by: str | None) -> datetime:
    at = await transition(app, session_id, SessionStatus.ENDED, by)
    await _emit(app, session_id, SessionEndedOut(id=session_id, at=at))
    spawn(app, app[BUS].publish(SessionEnded(session_id, at)))
    log.info("%s: ended (%s)", session_id, f"by {by}" if by else "everyone had left")
    return at


async def _emit(app: web.Application, session_id: str, message: ServerEvent) -> None:
    await send(app[SIO], message, to=session_room(session_id), namespace=NAMESPACE)


# --- one-on-ones run themselves ---------------------------------------------------------------
class OneOnOnes:
    """This process's one-on-ones (seen at a join) and their pending end-of-grace timers."""

    def __init__(self) -> None:
        self.sessions: set[str] = set()
        self.timers: dict[str, asyncio.Task[None]] = {}

    def arm(self, session_id: str, timer: Coroutine[Any, Any, None]) -> None:
        """Runs `timer` as the session's one pending end, replacing an earlier one."""
        self.cancel(session_id)
        task = asyncio.ensure_future(timer)
        self.timers[session_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self.timers.get(session_id) is done:
                del self.timers[session_id]

        task.add_done_callback(forget)

    def cancel(self, session_id: str) -> None:
        task = self.timers.pop(session_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self.timers.values())
        self.timers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


ONE_ON_ONES: web.AppKey[OneOnOnes] = web.AppKey("one_on_ones", OneOnOnes)


def register(app: web.Application, registry: EventRegistry) -> None:
    app[ONE_ON_ONES] = OneOnOnes()
    registry.on_enter.append(one_on_one_entered)
    registry.on_leave.append(one_on_one_left)
    app.cleanup_ctx.append(_timers_ctx)


async def _timers_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    # After the shutdown disconnected everyone: a restart must not end the calls it interrupted.
    await app[ONE_ON_ONES].close()


async def one_on_one_entered(app: web.Application, me: Participant, session: dict[str, Any]) -> None:
    """Someone is in the room: a one-on-one is no longer empty, and goes live once both sides are in."""
    if SessionKind(session["kind"]) is not SessionKind.ONE_ON_ONE:
        return
    runs = app[ONE_ON_ONES]
    runs.sessions.add(me.session_id)
    runs.cancel(me.session_id)
    state = app[ROOM_STATE]
    await state.set_empty_mark(me.session_id, None)
    if await session_status(app, me.session_id) != SessionStatus.SCHEDULED:
        return
    if one_on_one_can_start(await state.participants(me.session_id)):
        try:
            await go_live(app, me.session_id, by=None)
        except Conflict:
            pass  # the other side's join, or the CSM's own click, started it a moment earlier
        else:
            log.info("%s: live (the CSM and a contact are both in)", me.session_id)


async def one_on_one_left(app: web.Application, me: Participant, sid: str, last: bool) -> None:
    """The last person left a live one-on-one: end it after the grace period unless someone comes back."""
    runs = app[ONE_ON_ONES]
    session_id = me.session_id
    if not last or session_id not in runs.sessions:
        return
    state = app[ROOM_STATE]
    if await state.participants(session_id) or await session_status(app, session_id) != SessionStatus.LIVE:
        return
    mark = uuid.uuid4().hex
    await state.set_empty_mark(session_id, mark)
    runs.arm(session_id, _end_after_grace(app, session_id, mark))


async def _end_after_grace(app: web.Application, session_id: str, mark: str) -> None:
    await asyncio.sleep(app[SETTINGS].one_on_one_grace_seconds)
    state = app[ROOM_STATE]
    if await state.empty_mark(session_id) != mark or await state.participants(session_id):
        return  # someone came back (here or on another process) since this timer was set
    try:
        await end(app, session_id, by=None)
    except Conflict:
        pass  # the CSM ended it meanwhile
    except Exception:
        log.exception("%s: could not end the empty one-on-one", session_id)
