"""The batching event writer: the realtime path appends without waiting; a background task inserts in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from live.db.tables import Event
from live.errors import LiveError
from live.events.model import LogEvent

if TYPE_CHECKING:
    from live.metrics import Metrics

log = logging.getLogger(__name__)

# Rows per INSERT: large enough that a busy webinar's burst is one statement, small enough
# that one statement stays well under every driver's parameter limit (SQLite: 32,766 params / 5 columns).
BATCH_MAX = 5000
# A failed flush at shutdown is retried this many times before the remaining events are logged as lost.
CLOSE_ATTEMPTS = 3


class WriterClosed(LiveError):
    code = "unavailable"
    status = 503


class EventWriter:
    """`append()` is synchronous and never blocks; `flush()` writes what is pending; `close()` writes everything.

    After `close()` starts, `append()` refuses with `WriterClosed`, so a caller that acknowledges
    only after a successful append never acknowledges an event that will not be written.
    """

    def __init__(self, engine: AsyncEngine, interval: float, metrics: Metrics | None = None) -> None:
        self._engine = engine
        self._interval = interval
        self._metrics = metrics
        self._pending: list[LogEvent] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def append(self, event: LogEvent) -> None:
        if self._closed:
            raise WriterClosed("The server is shutting down; try again in a moment.")
        self._pending.append(event)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-writer")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                # The events stay pending and the next tick retries; the database may be restarting.
                log.exception("event writer: flush failed, %d events pending", len(self._pending))

    async def flush(self) -> int:
        """Writes every pending event (in append order); returns how many were written."""
        written = 0
        async with self._lock:
            while self._pending:
                batch = self._pending[:BATCH_MAX]
                del self._pending[: len(batch)]
                try:
                    async with self._engine.begin() as conn:
                        await conn.execute(insert(Event), [_row(e) for e in batch])
                except BaseException:
                    self._pending[:0] = batch
                    raise
                written += len(batch)
                if self._metrics is not None:
                    self._metrics.events_written.inc(len(batch))
        return written

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for attempt in range(1, CLOSE_ATTEMPTS + 1):
            try:
                await self.flush()
                return
            except Exception:
                log.exception("event writer: flush at close failed (attempt %d)", attempt)
                await asyncio.sleep(0.2 * attempt)
        log.error("event writer: %d events could not be written at shutdown", len(self._pending))


def _row(event: LogEvent) -> dict[str, Any]:
    return {
        "session_id": event.session_id,
        "participant_id": event.participant_id,
        "type": event.type.value,
        "at": event.at,
        "data": event.data,
    }


async def writer_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: started after the database, closed (flushing everything) before the engine is disposed."""
    from live.typedefs import ENGINE, EVENT_WRITER, METRICS, SETTINGS

    writer = EventWriter(app[ENGINE], app[SETTINGS].event_flush_interval, app[METRICS])
    writer.start()
    app[EVENT_WRITER] = writer
    yield
    await writer.close()
