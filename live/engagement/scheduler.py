"""The nightly job: once a day one process (elected through the `job_runs` row) evaluates every account at
each midnight it has not seen yet, so decay and inactivity act without a session."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from live.background import running
from live.db.tables import JobRun
from live.engagement import store
from live.engagement.service import Loop, Outcome, catch_up_all, session_ended
from live.typedefs import DB, SETTINGS
from live.webhooks import delivery

log = logging.getLogger(__name__)

NIGHTLY = "nightly"
# A process is elected when the last run is older than this: a little under a day, so that a run that
# started a few minutes late yesterday does not push today's later still.
RUN_EVERY = timedelta(hours=23)


async def elect(
    factory: async_sessionmaker[AsyncSession], name: str, runner: str, now: datetime, every: timedelta = RUN_EVERY
) -> bool:
    """True for exactly one caller per period, across processes: a conditional UPDATE of the job's row
    (or, the very first time, the INSERT that wins the primary key)."""
    async with factory() as db:
        result = await db.execute(
            update(JobRun)
            .where(JobRun.name == name, JobRun.last_run_at < now - every)
            .values(last_run_at=now, runner=runner)
        )
        if getattr(result, "rowcount", 0) == 1:
            await db.commit()
            return True
        if (await db.execute(select(JobRun.name).where(JobRun.name == name))).first() is not None:
            await db.rollback()
            return False
        db.add(JobRun(name=name, last_run_at=now, runner=runner))
        try:
            await db.commit()
        except IntegrityError:
            await db.rollback()  # another process inserted it first: it runs, we do not
            return False
        return True


@dataclass
class SchedulerState:
    runner: str
    runs: int = 0
    last: Outcome | None = None


SCHEDULER: web.AppKey[SchedulerState] = web.AppKey("engagement_scheduler", SchedulerState)


async def run_nightly(app: web.Application, now: datetime | None = None) -> bool:
    """One check: if this process wins today's election, catch every account up to now."""
    state = app[SCHEDULER]
    now = now or datetime.now(UTC)
    if not await elect(app[DB], NIGHTLY, state.runner, now):
        return False
    log.info("nightly: elected as %s", state.runner)
    async with app[DB]() as db:
        outcome = await catch_up_all(db, Loop.of(app), now)
        await db.commit()
    state.runs += 1
    state.last = outcome
    log.info(
        "nightly: %d evaluations, %d changes, %d check-ins proposed",
        outcome.evaluations, len(outcome.changes), len(outcome.proposed),
    )
    delivery.poke(app)
    return True


# A session ended this long ago and still unscored was dropped by a stopped process, not in flight.
UNSCORED_GRACE = timedelta(seconds=30)


async def score_unscored(app: web.Application, now: datetime | None = None) -> int:
    """Scores ended sessions a stopped process never got to, so a restart resumes the loop."""
    now = now or datetime.now(UTC)
    async with app[DB]() as db:
        pending = await store.unscored_sessions(db, now - UNSCORED_GRACE)
    for session_id in pending:
        log.info("%s: ended but never scored; scoring it now", session_id)
        await session_ended(app, session_id)
    return len(pending)


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Checks every `scheduler_interval` seconds (the first check after one interval) for the app's lifetime."""
    interval = app[SETTINGS].scheduler_interval
    app[SCHEDULER] = SchedulerState(runner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")

    async def loop() -> None:
        while True:
            try:
                await score_unscored(app)
            except Exception:
                log.exception("sweep: scoring unscored sessions failed; the next check retries")
            await asyncio.sleep(interval)
            try:
                await run_nightly(app)
            except Exception:
                log.exception("nightly: the run failed; the next one catches up")

    async with running(loop(), name="engagement-nightly"):
        yield
