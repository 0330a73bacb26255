"""Liveness and readiness: `/healthz` (the process runs; says what is degraded) and `/readyz` (503 while a
backing service is down, so a load balancer sends new people elsewhere).

A database or Redis restart does not make the process unhealthy: realtime work goes on (chat, votes and
presence are queued or refused with `unavailable`), and the batching writers keep their rows until the
database is back. So `/healthz` stays 200 with `"status": "degraded"`, and only `/readyz` answers 503.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text

from live.typedefs import ENGINE, EVENT_WRITER, ROOM_STATE

log = logging.getLogger(__name__)

# Seconds a check waits for the database or Redis: a health probe must answer before the prober gives up.
CHECK_TIMEOUT = 2.0


async def _database(app: web.Application) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with app[ENGINE].connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return "unreachable"
    return "ok"


async def _redis(app: web.Application) -> str:
    state = app.get(ROOM_STATE)
    if state is None:
        return "unused"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await state.ping()
    except Exception as exc:
        log.warning("health check: Redis unreachable: %s", exc)
        return "unreachable"


async def check(app: web.Application) -> dict[str, Any]:
    """`{status: ok|degraded, database, redis, pending: {writer: rows waiting}}`."""
    from live.polls.writer import POLL_WRITER

    database, redis = await asyncio.gather(_database(app), _redis(app))
    pending = {}
    for key in (EVENT_WRITER, POLL_WRITER):
        writer = app.get(key)
        if writer is not None:
            pending[writer.name] = writer.pending
    down = "unreachable" in (database, redis)
    return {"status": "degraded" if down else "ok", "database": database, "redis": redis, "pending": pending}


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(await check(request.app))


async def readyz(request: web.Request) -> web.Response:
    report = await check(request.app)
    return web.json_response(report, status=503 if report["status"] != "ok" else 200)
