"""Socket.IO handlers of webinar media when `LIVE_MEDIA=janus`: the same events as the embedded engine, plus `media.answer`.

`media.publish {description: offer}` is answered as with the embedded engine (by Janus's origin).
`media.subscribe` sent *without* a description asks for Janus's offer, which comes back in the ack;
the viewer answers it with `media.answer {description: answer}` (a VideoRoom subscriber never offers).
`media.subscribe` with an offer is refused with a message saying so. As with the embedded engine,
`media.publish` may name a shared screen's m-line (`screen_mid`), an invited speaker from the audience
publishes like a host (and is taken off the origin room when revoked, declining or leaving), and an attendee who subscribes
before the session is live gets a connection on which nothing is relayed until it goes live. `room.state.media` tells pages
which way to subscribe: `"janus"` here, absent with the embedded engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from live.domain_events import SessionEnded, SessionStarted, SpeakerStopped
from live.errors import InvalidInput
from live.media.events import MediaPublishIn
from live.media.janus.engine import JanusMedia
from live.media.janus.events import MediaAnswerIn, SubscribeIn
from live.media.model import check_can_publish, check_can_subscribe, receives_published_tracks
from live.rooms.dispatch import Ctx, EventRegistry, session_room
from live.rooms.model import STAFF, Participant, RateKind
from live.rooms.namespace import NAMESPACE
from live.rooms.server_events import ServerEvent, send
from live.speakers.store import SPEAKER_STORE
from live.typedefs import ROOM_STATE_PARTS, SETTINGS, SIO, SocketEmitter

JANUS: web.AppKey[JanusMedia] = web.AppKey("janus_media", JanusMedia)


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("media.publish", publish, MediaPublishIn, rate=RateKind.RTC)
    registry.add("media.subscribe", subscribe, SubscribeIn, rate=RateKind.RTC)
    registry.add("media.answer", answer, MediaAnswerIn, rate=RateKind.RTC)
    registry.on_leave.append(_left)
    parts = app.setdefault(ROOM_STATE_PARTS, {})
    parts["publishers"] = publishers
    parts["screen"] = screen
    parts["media"] = engine_name
    app.cleanup_ctx.append(janus_ctx)


async def janus_ctx(app: web.Application) -> AsyncIterator[None]:
    sio: SocketEmitter = app[SIO]

    async def emit(message: ServerEvent, sid: str) -> None:
        await send(sio, message, to=sid, namespace=NAMESPACE)

    async def emit_to_session(message: ServerEvent, session_id: str) -> None:
        await send(sio, message, to=session_room(session_id), namespace=NAMESPACE)

    media = JanusMedia(app[SETTINGS].janus, emit, emit_to_session)
    await media.start()
    app[JANUS] = media
    yield
    await media.close()


async def publish(ctx: Ctx, body: MediaPublishIn) -> dict[str, Any]:
    """Hosts, co-hosts and speakers from the audience publish into the origin room alike."""
    speaker = ctx.me.role not in STAFF and await ctx.app[SPEAKER_STORE].is_speaker(ctx.session_id, ctx.me.participant_id)
    check_can_publish(ctx.session["kind"], ctx.me.role, speaker)
    offer = body.description.model_dump()
    answer = await ctx.app[JANUS].publish(ctx.session_id, ctx.me.participant_id, ctx.sid, offer, body.screen_mid)
    return {"description": answer}


async def subscribe(ctx: Ctx, body: SubscribeIn) -> dict[str, Any]:
    check_can_subscribe(ctx.session["kind"])
    if body.description is not None:
        raise InvalidInput(
            "This server's webinar media runs on Janus, which makes the offer: send 'media.subscribe' with {} "
            "and answer the offer in the ack with 'media.answer'."
        )
    hold = not receives_published_tracks(ctx.me.role, await ctx.status())
    return {"description": await ctx.app[JANUS].subscribe(ctx.session_id, ctx.me.participant_id, ctx.sid, hold=hold)}


async def answer(ctx: Ctx, body: MediaAnswerIn) -> dict[str, Any]:
    check_can_subscribe(ctx.session["kind"])
    await ctx.app[JANUS].answer(ctx.session_id, ctx.me.participant_id, body.description.model_dump())
    return {}


async def publishers(ctx: Ctx) -> list[str]:
    return ctx.app[JANUS].publishers(ctx.session_id)


async def screen(ctx: Ctx) -> str | None:
    """`room.state.screen`: who shares a screen in the session's webinar, or null."""
    return ctx.app[JANUS].screen(ctx.session_id)


async def engine_name(ctx: Ctx) -> str:
    return "janus"


async def _left(app: web.Application, me: Participant, sid: str, last: bool) -> None:
    await app[JANUS].leave(me.session_id, me.participant_id, sid, last)


async def on_session_started(app: web.Application, event: SessionStarted) -> None:
    """The audience, held back until now, gets the hosts' pictures and sound."""
    await app[JANUS].started(event.session_id)


async def on_session_ended(app: web.Application, event: SessionEnded) -> None:
    """Tears the session's rooms down on every node as soon as it ends."""
    await app[JANUS].end(event.session_id)


async def on_speaker_stopped(app: web.Application, event: SpeakerStopped) -> None:
    """A revoked, declined or departed speaker leaves the origin room and every edge; viewers renegotiate."""
    await app[JANUS].unpublish(event.session_id, event.participant_id)
