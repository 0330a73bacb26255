"""Socket.IO handlers of the room itself: going live and ending, reactions, hands, focus, media state,
moderation and peer-to-peer signaling. Chat and Q&A are in `live.chat.handlers`, polls in `live.polls`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select

from live.db.tables import Invitation, LiveSession
from live.errors import Conflict, Forbidden, InvalidInput, NotFound
from live.events.model import EventType
from live.events.store import session_events
from live.isotime import iso_z
from live.rooms import lifecycle
from live.rooms.dispatch import ANY_STATUS, Ctx, Empty, EventRegistry, now
from live.rooms.events import (
    FocusIn,
    FocusOut,
    HandLoweredOut,
    HandLowerIn,
    HandRaisedOut,
    MediaStateIn,
    MediaStateOut,
    MutedOut,
    ReactionIn,
    ReactionOut,
    RemovedOut,
    RtcSignalIn,
    RtcSignalOut,
    SessionStartIn,
    TargetIn,
)
from live.rooms.model import STAFF, MediaState, RateKind, RoomRole
from live.sessions.model import SessionStatus, check_start_time
from live.typedefs import DB, ENGINE, EVENT_WRITER, ROOM_STATE

log = logging.getLogger(__name__)

REMOVED_REASON = "removed by the host"


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("session.start", start, SessionStartIn, roles=STAFF, statuses=ANY_STATUS, rate=RateKind.STAFF_ONLY)
    registry.add("session.end", end, Empty, roles=STAFF, statuses=ANY_STATUS, rate=RateKind.STAFF_ONLY)
    registry.add("reaction.send", reaction, ReactionIn, rate=RateKind.REACTION)
    registry.add("hand.raise", raise_hand, Empty, rate=RateKind.SIGNAL)
    registry.add("hand.lower", lower_hand, HandLowerIn, rate=RateKind.SIGNAL)
    registry.add("focus", focus, FocusIn, statuses=ANY_STATUS, rate=RateKind.SIGNAL)
    registry.add("media.state", media_state, MediaStateIn, statuses=ANY_STATUS, rate=RateKind.SIGNAL)
    registry.add("moderation.mute", mute, TargetIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("moderation.remove", remove, TargetIn, roles=STAFF, statuses=ANY_STATUS, rate=RateKind.STAFF_ONLY)
    registry.add("rtc.signal", rtc_signal, RtcSignalIn, rate=RateKind.RTC)
    registry.on_join.append(ensure_removals_loaded)


# --- the session's lifecycle (shared with one-on-ones that start and end by themselves) -------
async def start(ctx: Ctx, body: SessionStartIn) -> dict[str, Any]:
    async with ctx.app[DB]() as db:
        session = await db.get(LiveSession, ctx.session_id)
    if session is not None and session.status == SessionStatus.SCHEDULED:
        check_start_time(session.starts_at, now(), body.force)
    at = await lifecycle.go_live(ctx.app, ctx.session_id, by=ctx.me.participant_id)
    return {"id": ctx.session_id, "at": iso_z(at)}


async def end(ctx: Ctx, body: Empty) -> dict[str, Any]:
    at = await lifecycle.end(ctx.app, ctx.session_id, by=ctx.me.participant_id)
    return {"id": ctx.session_id, "at": iso_z(at)}


# --- signals from the audience --------------------------------------------------------------
async def reaction(ctx: Ctx, body: ReactionIn) -> None:
    ctx.log(EventType.REACTION, {"kind": body.kind})
    await ctx.emit(ReactionOut(participant_id=ctx.me.participant_id, kind=body.kind))


async def raise_hand(ctx: Ctx, body: Empty) -> dict[str, Any]:
    changed = await ctx.state.raise_hand(ctx.session_id, ctx.me.participant_id)
    if changed:
        ctx.log(EventType.HAND_RAISED)
        await ctx.emit_about(ctx.me.participant_id, HandRaisedOut(participant_id=ctx.me.participant_id))
    return {"changed": changed}


async def lower_hand(ctx: Ctx, body: HandLowerIn) -> dict[str, Any]:
    target = body.participant_id or ctx.me.participant_id
    if target != ctx.me.participant_id and ctx.me.role not in STAFF:
        raise Forbidden("Only the host or a co-host may lower someone else's hand.")
    changed = await ctx.state.lower_hand(ctx.session_id, target)
    if changed:
        ctx.log(EventType.HAND_LOWERED, {} if target == ctx.me.participant_id else {"target": target})
        await ctx.emit_about(target, HandLoweredOut(participant_id=target))
    return {"changed": changed}


async def focus(ctx: Ctx, body: FocusIn) -> None:
    # Recorded for attention scoring, and shown to the host and co-hosts only: attendees need not know
    # who switched tabs.
    ctx.log(EventType.FOCUS, {"sid": ctx.sid, "visible": body.visible})
    await ctx.state.set_focus(ctx.session_id, ctx.me.participant_id, body.visible)
    await ctx.emit_to_staff(FocusOut(participant_id=ctx.me.participant_id, visible=body.visible))


async def media_state(ctx: Ctx, body: MediaStateIn) -> None:
    ctx.log(EventType.MEDIA_STATE, {"sid": ctx.sid, "camera": body.camera, "mic": body.mic})
    await ctx.state.set_media(ctx.session_id, ctx.me.participant_id, MediaState(camera=body.camera, mic=body.mic))
    await ctx.emit_about(
        ctx.me.participant_id, MediaStateOut(participant_id=ctx.me.participant_id, camera=body.camera, mic=body.mic)
    )


# --- moderation -----------------------------------------------------------------------------
async def _present(ctx: Ctx, participant_id: str) -> RoomRole:
    for person in await ctx.state.participants(ctx.session_id):
        if person.participant_id == participant_id:
            return person.role
    raise NotFound(f"Participant {participant_id!r} is not in this session.")


async def mute(ctx: Ctx, body: TargetIn) -> None:
    await _present(ctx, body.participant_id)
    # Only a microphone that is on can be muted; a webinar attendee, who only watches, sends nothing.
    media = (await ctx.state.media(ctx.session_id, [body.participant_id])).get(body.participant_id)
    if media is None or not media.mic:
        raise Conflict(
            f"Participant {body.participant_id!r} is not sending audio: there is nothing to mute.", code="not_sending"
        )
    ctx.log(EventType.MUTED, {"target": body.participant_id})
    await ctx.emit_to(body.participant_id, MutedOut(participant_id=body.participant_id, by=ctx.me.participant_id))


async def remove(ctx: Ctx, body: TargetIn) -> None:
    target = body.participant_id
    if target == ctx.me.participant_id:
        raise InvalidInput("You cannot remove yourself; leave the room instead.")
    if target.startswith("u_"):
        role = await _present(ctx, target)
        if role is RoomRole.HOST or ctx.me.role is not RoomRole.HOST:
            raise Forbidden("Only the host may remove a co-host, and nobody may remove the host.")
    elif not await _attendee_of_session(ctx, target):
        raise NotFound(f"Participant {target!r} is not in this session and was not invited to it.")
    await ctx.state.mark_removed(ctx.session_id, target)
    ctx.log(EventType.REMOVED, {"target": target})
    await ctx.emit(RemovedOut(participant_id=target, reason=REMOVED_REASON))
    for sid in await ctx.state.connections(ctx.session_id, target):
        # With Redis the disconnect reaches the process that holds the socket.
        await ctx.sio.disconnect(sid, namespace=ctx.namespace)


async def _attendee_of_session(ctx: Ctx, participant_id: str) -> bool:
    """In the room now, or invited (a host may remove someone who just dropped out, before they come back)."""
    if not participant_id.startswith("c_"):
        return False
    if any(p.participant_id == participant_id for p in await ctx.state.participants(ctx.session_id)):
        return True
    async with ctx.app[DB]() as db:
        invited = await db.execute(
            select(Invitation.id).where(
                Invitation.session_id == ctx.session_id, Invitation.contact_id == participant_id.removeprefix("c_")
            )
        )
        return invited.first() is not None


async def ensure_removals_loaded(app: web.Application, session_id: str) -> None:
    """Join hook: removals are in the event log for good; a room state that lost them (a restart without Redis)
    gets them back before anyone is admitted."""
    state = app[ROOM_STATE]
    if await state.removals_loaded(session_id):
        return
    await app[EVENT_WRITER].flush()  # a removal this process has queued counts too
    for event in await session_events(app[ENGINE], session_id, (EventType.REMOVED,)):
        target = event.data.get("target")
        if isinstance(target, str):
            await state.mark_removed(session_id, target)
    await state.mark_removals_loaded(session_id)


# --- one-on-one signaling -------------------------------------------------------------------
async def rtc_signal(ctx: Ctx, body: RtcSignalIn) -> None:
    if body.description is None and body.candidate is None:
        raise InvalidInput("'rtc.signal' needs a 'description' or a 'candidate'.")
    if body.to == ctx.me.participant_id:
        raise InvalidInput("'to' names yourself; signal another participant.")
    role = await _present(ctx, body.to)
    if ctx.broadcasts and not ctx.me.role.is_staff and not role.is_staff:
        raise Forbidden("In a webinar or welcome seminar attendees cannot signal each other; only the hosts.")
    relayed: dict[str, Any] = {"from": ctx.me.participant_id}
    if body.description is not None:
        relayed["description"] = body.description
    if body.candidate is not None:
        relayed["candidate"] = body.candidate
    await ctx.emit_to(body.to, RtcSignalOut.model_validate(relayed))
