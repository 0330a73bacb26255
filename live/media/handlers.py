"""Socket.IO handlers of server media (`media.publish`, `media.subscribe`) and each session's `MediaRouter`.

Media is per process: a session's router lives in the process whose sockets sent the offers, and
only peers of that process can see each other's tracks. A webinar's publishers and subscribers must
therefore reach the same process (see docs/protocol.md, "Media"). `media.available` goes to the whole
session over Socket.IO (every process), which is harmless: a subscriber elsewhere would re-subscribe
to a router without that publisher.

Lifetimes: a router is made on a session's first `media.publish`/`media.subscribe` in this process;
a participant's peer connections close when the socket that made them, or their last socket, goes
(disconnect, `moderation.remove`, shutdown); the router closes when it has no connection left, when
the session ends, and on shutdown.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from live.domain_events import SessionEnded, SessionStarted, SpeakerStopped
from live.media.events import MediaAvailable, MediaOfferIn, MediaPublishIn
from live.media.model import check_can_publish, check_can_subscribe, receives_published_tracks
from live.media.router import MediaRouter, TracksChanged, ice_configuration
from live.rooms.dispatch import Ctx, EventRegistry, session_room
from live.rooms.model import STAFF, Participant, RateKind
from live.rooms.namespace import NAMESPACE
from live.rooms.server_events import send
from live.speakers.store import SPEAKER_STORE
from live.typedefs import ROOM_STATE_PARTS, SETTINGS, SIO, SocketEmitter

log = logging.getLogger(__name__)


class SessionMedia:
    """This process's `MediaRouter` per live session, and which sockets own whose peer connections."""

    def __init__(self, sio: SocketEmitter, ice_servers: list[dict[str, Any]]) -> None:
        ice_configuration(ice_servers)  # a bad LIVE_ICE_SERVERS fails at start-up, not at the first offer
        self._sio = sio
        self._ice_servers = ice_servers
        self._routers: dict[str, MediaRouter] = {}
        # (session, participant) -> the sockets that sent their offers.
        self._sockets: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        # Offers being answered per session: a router is not closed for being empty under them.
        self._busy: Counter[str] = Counter()
        # Called with the session id whenever its published tracks change (the recorder follows them).
        self.listeners: list[Callable[[str], None]] = []

    def get(self, session_id: str) -> MediaRouter | None:
        return self._routers.get(session_id)

    def router(self, session_id: str) -> MediaRouter:
        router = self._routers.get(session_id)
        if router is None or router.closed:
            router = MediaRouter(self._ice_servers, self._announcer(session_id), session_id=session_id)
            self._routers[session_id] = router
        return router

    async def publish(self, ctx: Ctx, offer: dict[str, Any], screen_mid: str | None = None) -> dict[str, str]:
        return await self._answer(ctx, offer, publish=True, screen_mid=screen_mid)

    async def subscribe(self, ctx: Ctx, offer: dict[str, Any], *, withhold: bool = False) -> dict[str, str]:
        return await self._answer(ctx, offer, publish=False, withhold=withhold)

    async def _answer(
        self, ctx: Ctx, offer: dict[str, Any], *, publish: bool, withhold: bool = False, screen_mid: str | None = None
    ) -> dict[str, str]:
        session_id, participant_id = ctx.session_id, ctx.me.participant_id
        router = self.router(session_id)
        self._busy[session_id] += 1
        try:
            if publish:
                answer = await router.publish(participant_id, offer, screen_mid)
            else:
                answer = await router.subscribe(participant_id, offer, withhold=withhold)
        finally:
            self._busy[session_id] -= 1
            if not self._busy[session_id]:
                del self._busy[session_id]
            await self._close_if_idle(session_id, router)  # a refused offer leaves nothing behind
        self._sockets[(session_id, participant_id)].add(ctx.sid)
        if not ctx.sio.manager.is_connected(ctx.sid, NAMESPACE):
            # The socket went while its offer was being answered: its leave hook has already run.
            await self.leave(ctx.me, ctx.sid, last=False)
        return answer

    async def leave(self, me: Participant, sid: str, last: bool) -> None:
        """A socket went: close the person's peer connections if it made them or was their last."""
        key = (me.session_id, me.participant_id)
        sockets = self._sockets.get(key)
        if not last and (sockets is None or sid not in sockets):
            return
        self._sockets.pop(key, None)
        router = self._routers.get(me.session_id)
        if router is None:
            return
        await router.remove(me.participant_id)
        await self._close_if_idle(me.session_id, router)

    async def _close_if_idle(self, session_id: str, router: MediaRouter) -> None:
        idle = not router.publishers and not router.subscribers and not self._busy[session_id]
        if idle and self._routers.get(session_id) is router:
            await self._close(session_id, "no media left")

    async def end(self, session_id: str) -> None:
        await self._close(session_id, "session ended")

    async def started(self, session_id: str) -> None:
        """The session went live: its subscribers renegotiate and now receive every published track."""
        router = self._routers.get(session_id)
        if router is None:
            return
        announce = self._announcer(session_id)
        for participant_id in router.publishers:
            await announce(participant_id)

    async def close(self) -> None:
        for session_id in list(self._routers):
            await self._close(session_id, "shutting down")

    async def _close(self, session_id: str, why: str) -> None:
        router = self._routers.pop(session_id, None)
        for key in [key for key in self._sockets if key[0] == session_id]:
            del self._sockets[key]
        if router is not None:
            await router.close()
            log.info("%s: media closed (%s)", session_id, why)

    def _announcer(self, session_id: str) -> TracksChanged:
        async def announce(participant_id: str) -> None:
            for listener in self.listeners:
                listener(session_id)
            # Subscribers renegotiate: a new publisher's tracks join their offer, a gone one's leave it.
            await send(
                self._sio, MediaAvailable(participant_id=participant_id), to=session_room(session_id), namespace=NAMESPACE
            )

        return announce


MEDIA: web.AppKey[SessionMedia] = web.AppKey("media")


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("media.publish", publish, MediaPublishIn, rate=RateKind.RTC)
    registry.add("media.subscribe", subscribe, MediaOfferIn, rate=RateKind.RTC)
    registry.on_leave.append(_left)
    app.setdefault(ROOM_STATE_PARTS, {})["publishers"] = publishers
    app[ROOM_STATE_PARTS]["screen"] = screen
    app.cleanup_ctx.append(media_ctx)


async def media_ctx(app: web.Application) -> AsyncIterator[None]:
    app[MEDIA] = SessionMedia(app[SIO], app[SETTINGS].ice_servers)
    yield
    await app[MEDIA].close()


async def publish(ctx: Ctx, body: MediaPublishIn) -> dict[str, Any]:
    # Role and kind are checked here, not by the registry, so a one-on-one hears why first.
    speaker = ctx.me.role not in STAFF and await ctx.app[SPEAKER_STORE].is_speaker(ctx.session_id, ctx.me.participant_id)
    check_can_publish(ctx.session["kind"], ctx.me.role, speaker)
    return {"description": await ctx.app[MEDIA].publish(ctx, body.description.model_dump(), body.screen_mid)}


async def subscribe(ctx: Ctx, body: MediaOfferIn) -> dict[str, Any]:
    check_can_subscribe(ctx.session["kind"])
    withhold = not receives_published_tracks(ctx.me.role, await ctx.status())
    return {"description": await ctx.app[MEDIA].subscribe(ctx, body.description.model_dump(), withhold=withhold)}


async def publishers(ctx: Ctx) -> list[str]:
    """`room.state.publishers`: who publishes in this process, so a newcomer knows what to subscribe to."""
    router = ctx.app[MEDIA].get(ctx.session_id)
    return router.publishers if router is not None else []


async def screen(ctx: Ctx) -> str | None:
    """`room.state.screen`: who shares a screen in this process's webinar, or null."""
    router = ctx.app[MEDIA].get(ctx.session_id)
    return router.screen_publisher() if router is not None else None


async def _left(app: web.Application, me: Participant, sid: str, last: bool) -> None:
    await app[MEDIA].leave(me, sid, last)


async def on_session_started(app: web.Application, event: SessionStarted) -> None:
    """The audience, held back until now, is told to subscribe again and gets the hosts' tracks."""
    await app[MEDIA].started(event.session_id)


async def on_session_ended(app: web.Application, event: SessionEnded) -> None:
    """Stops forwarding as soon as the session ends (subscribed first, before the slower scoring)."""
    await app[MEDIA].end(event.session_id)


async def on_speaker_stopped(app: web.Application, event: SpeakerStopped) -> None:
    """A revoked, declined or departed speaker's tracks leave this process's forwarder (their subscription stays)."""
    router = app[MEDIA].get(event.session_id)
    if router is not None:
        await router.unpublish(event.participant_id)
