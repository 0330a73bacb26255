"""Forgetting the realtime state of sessions that ended long ago.

A session's room state (present people, hands, chat cache, polls' tallies...) lives in Redis or in
the process's memory while it runs; everything that matters afterwards (attendance, polls, scores)
is derived from the event log in the database. So once a session has been over for
`state_retention_hours` and nobody is connected to it any more, every process drops what its stores
hold of it: in Redis that is every key under `live:{session}:`, which several processes may safely
delete at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from live.background import running
from live.db.tables import LiveSession
from live.sessions.model import SessionStatus
from live.typedefs import DB, ROOM_STATE, SESSION_STORES, SETTINGS

log = logging.getLogger(__name__)

# Seconds between checks; the first runs one interval after start-up.
CHECK_EVERY = 3600.0
# Session ids per database query.
_CHUNK = 500


async def forget_ended_sessions(app: web.Application, now: datetime | None = None) -> list[str]:
    """Drops the stores' state of every session that ended before now - retention; returns their ids."""
    now = now or datetime.now(UTC)
    ended_before = now - timedelta(hours=app[SETTINGS].state_retention_hours)
    stores = app[SESSION_STORES]
    held: set[str] = set()
    for store in stores:
        held |= await store.session_ids()
    candidates = sorted(held)
    expired: list[str] = []
    async with app[DB]() as db:
        for start in range(0, len(candidates), _CHUNK):
            query = select(LiveSession.id).where(
                LiveSession.id.in_(candidates[start : start + _CHUNK]),
                LiveSession.status == SessionStatus.ENDED.value,
                LiveSession.ended_at < ended_before,
            )
            expired += (await db.execute(query)).scalars()
    # Someone still connected (staff may stay in an ended room) keeps the session's state, whose
    # status and presence their connection relies on; the next check retries.
    expired = [session_id for session_id in expired if not await app[ROOM_STATE].participants(session_id)]
    for session_id in expired:
        for store in stores:
            await store.drop_session(session_id)
    if expired:
        log.info("retention: forgot the room state of %d sessions ended before %s", len(expired), ended_before)
    return expired


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            try:
                await forget_ended_sessions(app)
            except Exception:
                log.exception("retention: the check failed; the next one retries")

    async with running(loop(), name="room-state-retention"):
        yield
