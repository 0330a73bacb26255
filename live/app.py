"""`init_app()` wires settings, database, templates, routes, middlewares and the realtime server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
import socketio
from aiohttp import web

from live import metrics as metrics_mod
from live.api.errors import error_middleware
from live.auth.identity import csrf_cookie_middleware
from live.bus import BUS, Bus
from live.db.engine import create_engine, session_factory
from live.domain_events import RecordingReady, SessionEnded
from live.engagement.config import EngagementConfig
from live.engagement.scheduler import scheduler_ctx
from live.events.writer import writer_ctx
from live.settings import Settings
from live.typedefs import DB, ENGAGEMENT, ENGINE, METRICS, ROOM_EVENTS, SETTINGS, SIO
from live.webhooks.delivery import outbox_ctx

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# Connections the Socket.IO Redis manager may open at once (Redis accepts 10,000 clients by default).
REDIS_FANOUT_POOL = 1000


def init_app(settings: Settings) -> web.Application:
    metrics = metrics_mod.Metrics()
    app = web.Application(
        middlewares=[metrics_mod.middleware(metrics), error_middleware, csrf_cookie_middleware],
        client_max_size=2 * 1024 * 1024,
    )
    app[SETTINGS] = settings
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
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(outbox_ctx)
    app.cleanup_ctx.append(writer_ctx)
    app.cleanup_ctx.append(scheduler_ctx)

    # redis-py fails a command outright when its pool is exhausted rather than waiting; a broadcast burst
    # (thousands of emits) must not be the one that fails, so the fan-out client gets a wide pool.
    manager = (
        socketio.AsyncRedisManager(settings.redis_url, redis_options={"max_connections": REDIS_FANOUT_POOL})
        if settings.redis_url
        else None
    )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=[settings.public_url],
        ping_interval=10,
        ping_timeout=20,
        max_http_buffer_size=256 * 1024,
    )
    sio.attach(app)
    app[SIO] = sio
    from live.rooms.namespace import setup as setup_rooms

    setup_rooms(app)
    from live.polls.handlers import register as register_polls  # polls: Socket.IO events, room.state part

    register_polls(app, app[ROOM_EVENTS])
    from live.media.handlers import register as register_media  # media: publish/subscribe, routers

    register_media(app, app[ROOM_EVENTS])
    from live.recordings.handlers import register as register_recordings  # recording.start/stop, recorders

    register_recordings(app, app[ROOM_EVENTS])
    from live.speakers.handlers import register as register_speakers  # speaker.invite/revoke

    register_speakers(app, app[ROOM_EVENTS])
    _subscribe(app[BUS])

    from live.accounts.routes import routes as account_routes
    from live.pages.routes import routes as page_routes
    from live.polls.routes import routes as poll_routes
    from live.recordings.routes import routes as recording_routes
    from live.sessions.reports import routes as session_report_routes
    from live.sessions.routes import routes as session_routes
    from live.webhooks.routes import routes as webhook_routes

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_mod.metrics_view)
    app.router.add_routes(account_routes)
    app.router.add_routes(session_routes)
    app.router.add_routes(session_report_routes)
    app.router.add_routes(poll_routes)
    app.router.add_routes(recording_routes)
    app.router.add_routes(webhook_routes)
    app.router.add_routes(page_routes)
    app.router.add_static("/static", WEB_DIR / "static", name="static")
    return app


def _subscribe(bus: Bus) -> None:
    """Who reacts to what happens, in order. Each subscriber is one function of its own capability."""
    from live.engagement import service as engagement
    from live.media import handlers as media
    from live.polls import handlers as polls
    from live.recordings import handlers as recordings

    # A session ends: finish its recording (while the forwarders still run), stop forwarding media,
    # close its open poll, then score it (which re-tiers its accounts, runs the automations and
    # queues the `session.ended` webhook).
    bus.subscribe(SessionEnded, recordings.stop_when_session_ends)
    bus.subscribe(SessionEnded, media.on_session_ended)
    bus.subscribe(SessionEnded, polls.close_when_session_ends)
    bus.subscribe(SessionEnded, engagement.on_session_ended)
    # A recording's files are closed and its row committed: tell the webhooks.
    bus.subscribe(RecordingReady, recordings.queue_ready_webhook)


async def _close_bus(app: web.Application) -> None:
    await app[BUS].close()


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[ENGINE] = engine
    app[DB] = session_factory(engine)
    yield
    await engine.dispose()


async def healthz(request: web.Request) -> web.Response:
    from sqlalchemy import text

    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok"})
