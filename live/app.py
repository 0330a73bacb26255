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

from live import __version__
from live import metrics as metrics_mod
from live.api import headers
from live.api.errors import error_middleware
from live.api.spec import API_OPERATIONS, ApiRoutes, add_api, openapi_document
from live.auth.identity import csrf_cookie_middleware
from live.auth.throttle import throttle_ctx
from live.db.engine import create_engine, session_factory
from live.engagement.config import EngagementConfig
from live.engagement.scheduler import scheduler_ctx
from live.events.writer import writer_ctx
from live.settings import Settings
from live.typedefs import DB, ENGAGEMENT, ENGINE, METRICS, ON_SESSION_ENDED, ROOM_EVENTS, SETTINGS, SIO
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
    headers.setup(app, settings.public_url)
    app[METRICS] = metrics
    app[ENGAGEMENT] = EngagementConfig().with_overrides(settings.engagement)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        context_processors=[aiohttp_jinja2.request_processor],
    )
    env.globals["public_url"] = settings.public_url
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(throttle_ctx)
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
    from live.engagement.service import session_ended

    app.setdefault(ON_SESSION_ENDED, []).append(session_ended)
    from live.polls.handlers import register as register_polls  # polls: Socket.IO events, room.state part

    register_polls(app, app[ROOM_EVENTS])
    from live.media.handlers import register as register_media  # media: publish/subscribe, routers

    register_media(app, app[ROOM_EVENTS])

    from live.accounts.routes import api as account_api
    from live.auth.routes import api as auth_api
    from live.pages.routes import routes as page_routes
    from live.polls.routes import api as poll_api
    from live.sessions.reports import api as session_report_api
    from live.sessions.routes import api as session_api
    from live.webhooks.routes import api as webhook_api

    for api in (service_api, auth_api, account_api, session_api, session_report_api, poll_api, webhook_api):
        add_api(app, api)
    app.router.add_routes(page_routes)
    app.router.add_static("/static", WEB_DIR / "static", name="static")
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[ENGINE] = engine
    app[DB] = session_factory(engine)
    yield
    await engine.dispose()


service_api = ApiRoutes("service")


class HealthOut(BaseModel):
    status: str


@service_api.get("/healthz", response=HealthOut, auth="public", errors=(503,), summary="Liveness: the database answers")
async def healthz(request: web.Request) -> web.Response:
    from sqlalchemy import text

    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok"})


@service_api.get("/metrics", auth="public", media_type="text/plain", summary="Prometheus metrics, text format")
async def metrics(request: web.Request) -> web.StreamResponse:
    return await metrics_mod.metrics_view(request)


@service_api.get("/api/v1/openapi.json", auth="public", summary="This document: OpenAPI 3.1 of every endpoint")
async def openapi(request: web.Request) -> web.Response:
    document = openapi_document(request.app[API_OPERATIONS], request.app[SETTINGS].public_url, __version__)
    return web.json_response(document)
