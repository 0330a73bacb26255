"""`init_app()` wires settings, database, templates, routes, middlewares and the realtime server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
import socketio
from aiohttp import web
from pydantic import BaseModel

from live import __version__, health
from live import metrics as metrics_mod
from live.accounts import routes as account_routes
from live.api import headers
from live.api.errors import error_middleware
from live.api.spec import API_OPERATIONS, ApiRoutes, add_api, openapi_document
from live.auth import routes as auth_routes
from live.auth.identity import csrf_cookie_middleware
from live.auth.throttle import throttle_ctx
from live.bus import BUS, Bus
from live.db.engine import create_engine, session_factory
from live.domain_events import (
    AccountChanged,
    ContactAdded,
    ContactInvited,
    ContactUninvited,
    OverrideReleased,
    RecordingReady,
    RegistrationCreated,
    SessionCancelled,
    SessionEnded,
    SessionRescheduled,
    SessionScheduled,
    SessionStarted,
    SpeakerStopped,
)
from live.engagement import automations
from live.engagement import routes as engagement_routes
from live.engagement import service as engagement
from live.engagement.config import EngagementConfig
from live.engagement.scheduler import scheduler_ctx
from live.events.writer import writer_ctx
from live.mail import routes as mail_routes
from live.mail import triggers as mail
from live.mail.sender import mail_ctx
from live.mail.triggers import INVITATION_BATCHER, MAIL_COMPOSER, InvitationBatcher, sweep_ctx
from live.media import handlers as media
from live.media.janus import handlers as janus_media
from live.pages import routes as page_routes
from live.polls import handlers as polls
from live.polls import routes as poll_routes
from live.recordings import handlers as recordings
from live.recordings import routes as recording_routes
from live.registration import routes as registration_routes
from live.registration.attempts import attempts_ctx
from live.rooms import joincache
from live.rooms import namespace as rooms
from live.rooms.fanout import LocalManager, RefusingRedisManager
from live.rooms.wire import GuardedPacket
from live.sessions import reports as session_reports
from live.sessions import routes as session_routes
from live.settings import Settings
from live.speakers import handlers as speakers
from live.typedefs import DB, ENGAGEMENT, ENGINE, METRICS, ROOM_EVENTS, SETTINGS, SIO
from live.webhooks import routes as webhook_routes
from live.webhooks.delivery import outbox_ctx

log = logging.getLogger(__name__)

def _web_dir() -> Path:
    """`web/`: the installed package `live.web` (a wheel), else the checkout's own folder (running from source)."""
    try:
        import live.web

        return Path(live.web.__file__).resolve().parent
    except ImportError:
        return Path(__file__).resolve().parent.parent / "web"


WEB_DIR = _web_dir()
# Connections the Socket.IO Redis manager may open at once (Redis accepts 10,000 clients by default).
REDIS_FANOUT_POOL = 1000


def init_app(settings: Settings) -> web.Application:
    metrics = metrics_mod.Metrics()
    app = web.Application(
        middlewares=[metrics_mod.middleware(metrics), error_middleware, csrf_cookie_middleware],
        client_max_size=2 * 1024 * 1024,
    )
    app[SETTINGS] = settings
    headers.setup(app, settings.public_url)
    app[METRICS] = metrics
    app[ENGAGEMENT] = EngagementConfig().with_overrides(settings.engagement)
    app[BUS] = Bus(app)
    app.on_shutdown.append(_close_bus)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        context_processors=[aiohttp_jinja2.request_processor],
    )
    env.globals["public_url"] = settings.public_url
    from live.mail.compose import Composer

    app[MAIL_COMPOSER] = Composer(settings.sender, settings.public_url)
    app[INVITATION_BATCHER] = InvitationBatcher(app)
    app.on_shutdown.append(_close_batcher)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(throttle_ctx)
    app.cleanup_ctx.append(attempts_ctx)
    app.cleanup_ctx.append(outbox_ctx)
    app.cleanup_ctx.append(mail_ctx)
    app.cleanup_ctx.append(sweep_ctx)
    app.cleanup_ctx.append(writer_ctx)
    app.cleanup_ctx.append(scheduler_ctx)

    # redis-py fails a command outright when its pool is exhausted rather than waiting; a broadcast burst
    # (thousands of emits) must not be the one that fails, so the fan-out client gets a wide pool.
    manager = (
        RefusingRedisManager(settings.redis_url, redis_options={"max_connections": REDIS_FANOUT_POOL})
        if settings.redis_url
        else LocalManager()
    )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=[settings.public_url],
        ping_interval=10,
        ping_timeout=20,
        max_http_buffer_size=256 * 1024,
    )
    sio.packet_class = GuardedPacket  # a payload JSON cannot decode gets an ack, not an internal error
    sio.attach(app)
    app[SIO] = sio
    rooms.setup(app)  # the /live namespace, rooms' and chat's events
    polls.register(app, app[ROOM_EVENTS])  # polls: Socket.IO events, room.state part
    if settings.media == "janus":  # webinar media on Janus nodes (origin and edges)
        janus_media.register(app, app[ROOM_EVENTS])
    else:  # the aiortc forwarder in this process
        media.register(app, app[ROOM_EVENTS])
    speakers.register(app, app[ROOM_EVENTS])  # speaker.invite/revoke/accept/decline, with either engine
    recordings.register(app, app[ROOM_EVENTS])  # recording.start/stop, the recorders (after media: they tap it)
    _subscribe(app[BUS], settings)

    # The API (each module's declared routes, described at /api/v1/openapi.json), then the pages.
    for api in (
        service_api,
        auth_routes.api,
        account_routes.api,
        session_routes.api,
        session_reports.api,
        poll_routes.api,
        webhook_routes.api,
        engagement_routes.api,
        recording_routes.api,
        mail_routes.api,
    ):
        add_api(app, api)
    app.router.add_routes(recording_routes.routes)
    app.router.add_routes(mail_routes.routes)
    app.router.add_routes(registration_routes.routes)
    app.router.add_routes(page_routes.routes)
    app.router.add_static("/static", WEB_DIR / "static", name="static")
    return app


def _subscribe(bus: Bus, settings: Settings) -> None:
    """Who reacts to what happens, in order. Each subscriber is one function of its own capability."""
    janus = settings.media == "janus"
    # A session goes live: the audience, held back until now, receives the hosts' pictures and sound.
    bus.subscribe(SessionStarted, janus_media.on_session_started if janus else media.on_session_started)
    # A speaker's turn ends (revoked, declined, left): their tracks leave the engine; viewers renegotiate.
    bus.subscribe(SpeakerStopped, janus_media.on_speaker_stopped if janus else media.on_speaker_stopped)
    # A session ends: finish its recording (while the forwarders still run), stop forwarding media,
    # close its open poll, then score it (which re-tiers its accounts, runs the automations and
    # queues the `session.ended` webhook).
    bus.subscribe(SessionEnded, recordings.stop_when_session_ends)
    bus.subscribe(SessionEnded, janus_media.on_session_ended if janus else media.on_session_ended)
    bus.subscribe(SessionEnded, polls.close_when_session_ends)
    bus.subscribe(SessionEnded, engagement.on_session_ended)
    # Then the follow-ups (thank-you, missed-you): they do not depend on the scores, but run after scoring
    # so a welcome seminar's no-show finds the next seminar's invitation the automations just made.
    bus.subscribe(SessionEnded, mail.on_session_ended)
    # A recording's files are closed and its row committed: tell the webhooks.
    bus.subscribe(RecordingReady, recordings.queue_ready_webhook)
    # Mail to invited people as their invitation changes.
    bus.subscribe(ContactInvited, mail.on_contact_invited)
    bus.subscribe(RegistrationCreated, mail.on_registration_created)
    bus.subscribe(SessionRescheduled, mail.on_session_rescheduled)
    bus.subscribe(SessionCancelled, mail.on_session_cancelled)
    bus.subscribe(ContactUninvited, mail.on_contact_uninvited)
    # What processes cached for joins (the session row, its invitations) is dropped everywhere.
    bus.subscribe(SessionCancelled, joincache.session_changed)
    bus.subscribe(SessionRescheduled, joincache.session_changed)
    bus.subscribe(ContactUninvited, joincache.session_changed)
    # A welcome seminar is scheduled, or a contact of an onboarding account is added: invite them.
    bus.subscribe(SessionScheduled, automations.on_session_scheduled)
    bus.subscribe(ContactAdded, automations.on_contact_added)
    # A person changed an account: announce it (webhooks); an override handed back: the engine re-evaluates.
    bus.subscribe(AccountChanged, engagement.on_account_changed)
    bus.subscribe(OverrideReleased, engagement.on_override_released)


async def _close_bus(app: web.Application) -> None:
    await app[BUS].close()


async def _close_batcher(app: web.Application) -> None:
    from live.mail.triggers import INVITATION_BATCHER

    await app[INVITATION_BATCHER].close()


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[ENGINE] = engine
    app[DB] = session_factory(engine)
    yield
    await engine.dispose()


service_api = ApiRoutes("service")


class HealthOut(BaseModel):
    status: str


service_api.get("/healthz", response=HealthOut, auth="public", errors=(503,), summary="Liveness: the database answers")(
    health.healthz
)
service_api.get(
    "/readyz", response=HealthOut, auth="public", errors=(503,), summary="Readiness: the database (and Redis) answer"
)(health.readyz)


@service_api.get("/metrics", auth="public", media_type="text/plain", summary="Prometheus metrics, text format")
async def metrics(request: web.Request) -> web.StreamResponse:
    return await metrics_mod.metrics_view(request)


@service_api.get("/api/v1/openapi.json", auth="public", summary="This document: OpenAPI 3.1 of every endpoint")
async def openapi(request: web.Request) -> web.Response:
    document = openapi_document(request.app[API_OPERATIONS], request.app[SETTINGS].public_url, __version__)
    return web.json_response(document)
