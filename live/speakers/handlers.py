"""`speaker.invite` / `speaker.revoke`: a host lets an attendee publish until revoked (Zoom's "promote to panelist").

The speakers are a store of their own (`live.speakers.store`), so every process agrees; `media.publish` reads it. A
revoked speaker's published tracks are closed at once (subscribers renegotiate on `media.available`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from live.errors import NotFound
from live.media.handlers import MEDIA
from live.rooms.dispatch import Ctx, EventRegistry
from live.rooms.events import TargetIn
from live.rooms.model import STAFF, RateKind, RoomRole
from live.speakers.events import SpeakerInvitedOut, SpeakerRevokedOut
from live.speakers.model import check_can_invite
from live.speakers.store import SPEAKER_STORE, speaker_store_ctx
from live.typedefs import ROOM_STATE_PARTS


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("speaker.invite", invite, TargetIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("speaker.revoke", revoke, TargetIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    app.setdefault(ROOM_STATE_PARTS, {})["speakers"] = speakers_part
    app.cleanup_ctx.append(speaker_store_ctx)


async def _role_of(ctx: Ctx, participant_id: str) -> RoomRole:
    for person in await ctx.state.participants(ctx.session_id):
        if person.participant_id == participant_id:
            return person.role
    raise NotFound(f"Participant {participant_id!r} is not in this session.")


async def invite(ctx: Ctx, body: TargetIn) -> dict[str, Any]:
    target = body.participant_id
    check_can_invite(ctx.session["kind"], ctx.me.role, await _role_of(ctx, target))
    added = await ctx.app[SPEAKER_STORE].add(ctx.session_id, target)
    if added:
        await ctx.emit(SpeakerInvitedOut(participant_id=target))
    return {"changed": added}


async def revoke(ctx: Ctx, body: TargetIn) -> dict[str, Any]:
    target = body.participant_id
    check_can_invite(ctx.session["kind"], ctx.me.role, RoomRole.ATTENDEE)
    removed = await ctx.app[SPEAKER_STORE].remove(ctx.session_id, target)
    router = ctx.app[MEDIA].get(ctx.session_id)
    if router is not None:
        await router.unpublish(target)
    if removed:
        await ctx.emit(SpeakerRevokedOut(participant_id=target))
    return {"changed": removed}


async def speakers_part(ctx: Ctx) -> list[str]:
    """`room.state.speakers`: the attendees invited to speak."""
    return sorted(await ctx.app[SPEAKER_STORE].members(ctx.session_id))
