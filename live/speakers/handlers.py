"""`speaker.invite` / `speaker.revoke` from the hosts, `speaker.accept` / `speaker.decline` from the invited attendee.

A host lets an attendee publish until revoked (Zoom's "promote to panelist"); the attendee's page asks
them first, checks their camera and microphone, and answers. The speakers are two sets of their own store (`live.speakers.store`),
so every process agrees: `speakers` (invited: `media.publish` reads it) and `speaking` (accepted).
Speaking time is in the event log (`speaker.started` on accepting, `speaker.stopped` on a revoke, a
decline after accepting or the speaker's leaving; the session's end closes it too), which is where
engagement reads it from (`spoke_seconds`). A revoked or departed speaker's published tracks are
closed at once, by whichever media engine carries the session (`SpeakerStopped` on the bus; the embedded
forwarder and Janus both take the tracks off, and subscribers renegotiate on `media.available`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from live.bus import BUS
from live.domain_events import SpeakerStopped
from live.errors import LiveError, NotFound
from live.events.model import EventType, LogEvent
from live.rooms.dispatch import Ctx, Empty, EventRegistry, now, session_room
from live.rooms.events import TargetIn
from live.rooms.model import ATTENDEES, STAFF, Participant, RateKind, RoomRole
from live.rooms.namespace import NAMESPACE
from live.rooms.server_events import send
from live.speakers.events import SpeakerAcceptedOut, SpeakerDeclinedOut, SpeakerInvitedOut, SpeakerRevokedOut
from live.speakers.model import check_can_answer, check_can_invite
from live.speakers.store import SPEAKER_STORE, SPEAKING, speaker_store_ctx
from live.typedefs import EVENT_WRITER, ROOM_STATE_PARTS, SIO

log = logging.getLogger(__name__)


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("speaker.invite", invite, TargetIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("speaker.revoke", revoke, TargetIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("speaker.accept", accept, Empty, roles=ATTENDEES, rate=RateKind.SIGNAL)
    registry.add("speaker.decline", decline, Empty, roles=ATTENDEES, rate=RateKind.SIGNAL)
    registry.on_leave.append(_left)
    app.setdefault(ROOM_STATE_PARTS, {})["speakers"] = speakers_part
    app[ROOM_STATE_PARTS]["speaking"] = speaking_part
    app.cleanup_ctx.append(speaker_store_ctx)


async def _present(ctx: Ctx, participant_id: str) -> Participant:
    for person in await ctx.state.participants(ctx.session_id):
        if person.participant_id == participant_id:
            return person
    raise NotFound(f"Participant {participant_id!r} is not in this session.")


def _log_stopped(app: web.Application, session_id: str, speaker: str, data: dict[str, Any]) -> None:
    """The speaker's speaking ends (logged as theirs, whoever ended it)."""
    event = LogEvent(session_id=session_id, type=EventType.SPEAKER_STOPPED, at=now(), participant_id=speaker, data=data)
    app[EVENT_WRITER].append(event)


async def _stop(app: web.Application, session_id: str, speaker: str) -> tuple[bool, bool]:
    """Takes the speaker off both sets and their tracks off the media engine: (was invited, was speaking)."""
    store = app[SPEAKER_STORE]
    invited = await store.remove(session_id, speaker)
    speaking = await store.remove(session_id, speaker, SPEAKING)
    await app[BUS].publish(SpeakerStopped(session_id, speaker))
    return invited, speaking


async def invite(ctx: Ctx, body: TargetIn) -> dict[str, Any]:
    target = await _present(ctx, body.participant_id)
    check_can_invite(ctx.session["kind"], ctx.me.role, target.role)
    added = await ctx.app[SPEAKER_STORE].add(ctx.session_id, target.participant_id)
    if added:
        # The name too: the rest of the audience is not told who is in the room, but sees a speaker.
        await ctx.emit(SpeakerInvitedOut(participant_id=target.participant_id, name=target.name))
    return {"changed": added}


async def revoke(ctx: Ctx, body: TargetIn) -> dict[str, Any]:
    target = body.participant_id
    check_can_invite(ctx.session["kind"], ctx.me.role, RoomRole.ATTENDEE)
    removed, speaking = await _stop(ctx.app, ctx.session_id, target)
    if speaking:
        _log_stopped(ctx.app, ctx.session_id, target, {"reason": "revoked", "by": ctx.me.participant_id})
    if removed:
        await ctx.emit(SpeakerRevokedOut(participant_id=target))
    return {"changed": removed}


async def accept(ctx: Ctx, body: Empty) -> dict[str, Any]:
    """The invited attendee passed the device check and speaks from now on (their page publishes next)."""
    me = ctx.me.participant_id
    invited = await ctx.app[SPEAKER_STORE].is_speaker(ctx.session_id, me)
    check_can_answer(ctx.session["kind"], ctx.me.role, invited)
    added = await ctx.app[SPEAKER_STORE].add(ctx.session_id, me, SPEAKING)
    if added:
        ctx.log(EventType.SPEAKER_STARTED)
        await ctx.emit_about(me, SpeakerAcceptedOut(participant_id=me, name=ctx.me.name))
    return {"changed": added}


async def decline(ctx: Ctx, body: Empty) -> dict[str, Any]:
    """The invited attendee says no (or, once speaking, steps down): the hosts hear it, everyone sees the
    invitation end (`speaker.revoked`), and nothing of theirs is published any more."""
    me = ctx.me.participant_id
    invited = await ctx.app[SPEAKER_STORE].is_speaker(ctx.session_id, me)
    check_can_answer(ctx.session["kind"], ctx.me.role, invited)
    removed, speaking = await _stop(ctx.app, ctx.session_id, me)
    if speaking:
        _log_stopped(ctx.app, ctx.session_id, me, {"reason": "declined"})
    if removed:
        await ctx.emit_about(me, SpeakerDeclinedOut(participant_id=me))
        await ctx.emit(SpeakerRevokedOut(participant_id=me))
    return {"changed": removed}


async def _left(app: web.Application, me: Participant, sid: str, last: bool) -> None:
    """A speaker's last connection went: their speaking ends here (a reload comes back as an attendee)."""
    if not last or me.role in STAFF:
        return
    if not await app[SPEAKER_STORE].is_speaker(me.session_id, me.participant_id):
        return
    _, speaking = await _stop(app, me.session_id, me.participant_id)
    try:
        if speaking:
            _log_stopped(app, me.session_id, me.participant_id, {"reason": "left"})
        await send(app[SIO], SpeakerRevokedOut(participant_id=me.participant_id), to=session_room(me.session_id), namespace=NAMESPACE)
    except LiveError:
        # Shutting down: the log is closed; the session's end (or the leave) still ends the speaking.
        log.info("%s/%s: speaker left during shutdown", me.session_id, me.participant_id)


async def speakers_part(ctx: Ctx) -> list[str]:
    """`room.state.speakers`: the attendees invited to speak."""
    return sorted(await ctx.app[SPEAKER_STORE].members(ctx.session_id))


async def speaking_part(ctx: Ctx) -> list[str]:
    """`room.state.speaking`: the invited attendees who accepted, speaking now."""
    return sorted(await ctx.app[SPEAKER_STORE].members(ctx.session_id, SPEAKING))
