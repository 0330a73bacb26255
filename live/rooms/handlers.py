"""Socket.IO handlers of the room itself: going live and ending, reactions, hands, focus, media state,
moderation and peer-to-peer signaling. Chat and Q&A are in `live.chat.handlers`, polls in `live.polls`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import update

from live.db.tables import LiveSession
from live.errors import Forbidden, InvalidInput, NotFound
from live.events.model import EventType
from live.rooms.dispatch import ANY_STATUS, Ctx, Empty, EventRegistry, iso, now
from live.rooms.events import (
    FocusIn,
    HandLowerIn,
    MediaStateIn,
    ReactionIn,
    RtcSignalIn,
    SessionStartIn,
    TargetIn,
)
from live.rooms.model import STAFF, RateKind, RoomRole
from live.sessions.model import SessionStatus, check_start_time
from live.typedefs import DB, EVENT_WRITER, ON_SESSION_ENDED, SETTINGS, SessionEndedHook

log = logging.getLogger(__name__)

REMOVED_REASON = "removed by the host"


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("session.start", start, SessionStartIn, roles=STAFF, statuses=ANY_STATUS)
    registry.add("session.end", end, Empty, roles=STAFF, statuses=ANY_STATUS)
    registry.add("reaction.send", reaction, ReactionIn, rate=RateKind.REACTION)
    registry.add("hand.raise", raise_hand, Empty)
    registry.add("hand.lower", lower_hand, HandLowerIn)
    registry.add("focus", focus, FocusIn, statuses=ANY_STATUS)
    registry.add("media.state", media_state, MediaStateIn, statuses=ANY_STATUS)
    registry.add("moderation.mute", mute, TargetIn, roles=STAFF)
    registry.add("moderation.remove", remove, TargetIn, roles=STAFF, statuses=ANY_STATUS)
    registry.add("rtc.signal", rtc_signal, RtcSignalIn)


# --- the session's lifecycle ----------------------------------------------------------------
async def _transition(ctx: Ctx, to: SessionStatus) -> str:
    """Moves the sessions row with a conditional UPDATE, so two hosts on two processes cannot both win."""
    at = now()
    async with ctx.app[DB]() as db:
        current = SessionStatus((await db.get(LiveSession, ctx.session_id)).status)  # type: ignore[union-attr]
        current.transition(to)  # refuses an illegal move, naming both states
        values: dict[str, Any] = {"status": to.value}
        values["started_at" if to is SessionStatus.LIVE else "ended_at"] = at
        result = await db.execute(
            update(LiveSession)
            .where(LiveSession.id == ctx.session_id, LiveSession.status == current.value)
            .values(**values)
        )
        if getattr(result, "rowcount", 1) != 1:
            await db.rollback()
            SessionStatus(to).transition(to)  # the other side won; report it as the illegal move it now is
        await db.commit()
    await ctx.state.set_status(ctx.session_id, to.value)
    ctx.log(EventType.SESSION_STARTED if to is SessionStatus.LIVE else EventType.SESSION_ENDED, at=at)
    return iso(at)


async def start(ctx: Ctx, body: SessionStartIn) -> dict[str, Any]:
    async with ctx.app[DB]() as db:
        session = await db.get(LiveSession, ctx.session_id)
    if session is not None and session.status == SessionStatus.SCHEDULED:
        check_start_time(session.starts_at, now(), body.force)
    at = await _transition(ctx, SessionStatus.LIVE)
    await ctx.emit("session.started", {"id": ctx.session_id, "at": at})
    return {"id": ctx.session_id, "at": at}


async def end(ctx: Ctx, body: Empty) -> dict[str, Any]:
    at = await _transition(ctx, SessionStatus.ENDED)
    await ctx.emit("session.ended", {"id": ctx.session_id, "at": at})
    ctx.spawn(run_session_ended_hooks(ctx.app, ctx.session_id))
    return {"id": ctx.session_id, "at": at}


def session_ended_hooks(app: web.Application) -> list[SessionEndedHook]:
    """`app[ON_SESSION_ENDED]`, plus `live.engagement.hooks.session_ended` when that module exists."""
    registered: list[SessionEndedHook] = app[ON_SESSION_ENDED] if ON_SESSION_ENDED in app else []
    hooks = list(registered)
    try:
        module = importlib.import_module("live.engagement.hooks")
    except ModuleNotFoundError:
        return hooks
    hook = getattr(module, "session_ended", None)
    if hook is not None and hook not in hooks:
        hooks.append(hook)
    return hooks


async def run_session_ended_hooks(app: web.Application, session_id: str) -> None:
    # The hooks read the event log: write ours now, and give other processes one flush interval.
    try:
        await app[EVENT_WRITER].flush()
        await asyncio.sleep(app[SETTINGS].event_flush_interval * 2)
    except Exception:
        log.exception("%s: could not flush before the session-ended hooks", session_id)
    for hook in session_ended_hooks(app):
        try:
            await hook(app, session_id)
        except Exception:
            log.exception("%s: session-ended hook %r failed", session_id, getattr(hook, "__qualname__", hook))


# --- signals from the audience --------------------------------------------------------------
async def reaction(ctx: Ctx, body: ReactionIn) -> None:
    ctx.log(EventType.REACTION, {"kind": body.kind})
    await ctx.emit("reaction", {"participant_id": ctx.me.participant_id, "kind": body.kind})


async def raise_hand(ctx: Ctx, body: Empty) -> dict[str, Any]:
    changed = await ctx.state.raise_hand(ctx.session_id, ctx.me.participant_id)
    if changed:
        ctx.log(EventType.HAND_RAISED)
        await ctx.emit("hand.raised", {"participant_id": ctx.me.participant_id})
    return {"changed": changed}


async def lower_hand(ctx: Ctx, body: HandLowerIn) -> dict[str, Any]:
    target = body.participant_id or ctx.me.participant_id
    if target != ctx.me.participant_id and ctx.me.role not in STAFF:
        raise Forbidden("Only the host or a co-host may lower someone else's hand.")
    changed = await ctx.state.lower_hand(ctx.session_id, target)
    if changed:
        ctx.log(EventType.HAND_LOWERED, {} if target == ctx.me.participant_id else {"target": target})
        await ctx.emit("hand.lowered", {"participant_id": target})
    return {"changed": changed}


async def focus(ctx: Ctx, body: FocusIn) -> None:
    # Recorded for attention scoring, and shown to the host and co-hosts only: attendees need not know
    # who switched tabs.
    ctx.log(EventType.FOCUS, {"sid": ctx.sid, "visible": body.visible})
    await ctx.state.hash_set(ctx.session_id, "focus", ctx.me.participant_id, "1" if body.visible else "0")
    await ctx.emit_to_staff("participant.focus", {"participant_id": ctx.me.participant_id, "visible": body.visible})


async def media_state(ctx: Ctx, body: MediaStateIn) -> None:
    ctx.log(EventType.MEDIA_STATE, {"sid": ctx.sid, "camera": body.camera, "mic": body.mic})
    state = {"camera": body.camera, "mic": body.mic}
    await ctx.state.hash_set(ctx.session_id, "media", ctx.me.participant_id, json.dumps(state))
    await ctx.emit("media.state", {"participant_id": ctx.me.participant_id} | state)


# --- moderation -----------------------------------------------------------------------------
async def _present(ctx: Ctx, participant_id: str) -> RoomRole:
    for person in await ctx.state.participants(ctx.session_id):
        if person.participant_id == participant_id:
            return person.role
    raise NotFound(f"Participant {participant_id!r} is not in this session.")


async def mute(ctx: Ctx, body: TargetIn) -> None:
    await _present(ctx, body.participant_id)
    ctx.log(EventType.MUTED, {"target": body.participant_id})
    await ctx.emit_to(body.participant_id, "moderation.muted", {"participant_id": body.participant_id, "by": ctx.me.participant_id})


async def remove(ctx: Ctx, body: TargetIn) -> None:
    target = body.participant_id
    if target == ctx.me.participant_id:
        raise InvalidInput("You cannot remove yourself; leave the room instead.")
    if target.startswith("u_"):
        role = await _present(ctx, target)
        if role is RoomRole.HOST or ctx.me.role is not RoomRole.HOST:
            raise Forbidden("Only the host may remove a co-host, and nobody may remove the host.")
    elif not target.startswith("c_"):
        raise NotFound(f"Participant {target!r} is not in this session.")
    await ctx.state.mark_removed(ctx.session_id, target)
    ctx.log(EventType.REMOVED, {"target": target})
    await ctx.emit("moderation.removed", {"participant_id": target, "reason": REMOVED_REASON})
    for sid in await ctx.state.connections(ctx.session_id, target):
        # With Redis the disconnect reaches the process that holds the socket.
        await ctx.sio.disconnect(sid, namespace=ctx.namespace)


# --- one-on-one signaling -------------------------------------------------------------------
async def rtc_signal(ctx: Ctx, body: RtcSignalIn) -> None:
    if body.description is None and body.candidate is None:
        raise InvalidInput("'rtc.signal' needs a 'description' or a 'candidate'.")
    if body.to == ctx.me.participant_id:
        raise InvalidInput("'to' names yourself; signal another participant.")
    await _present(ctx, body.to)
    relayed: dict[str, Any] = {"from": ctx.me.participant_id}
    if body.description is not None:
        relayed["description"] = body.description
    if body.candidate is not None:
        relayed["candidate"] = body.candidate
    await ctx.emit_to(body.to, "rtc.signal", relayed)
