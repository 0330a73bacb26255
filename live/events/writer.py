"""The batching event writer: the realtime path appends without waiting; a background task inserts in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
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
# Longest `close()` waits for a flush under way to finish before cancelling it (seconds).
STOP_WAIT = 10.0


T = TypeVar("T")


class WriterClosed(LiveError):
    code = "unavailable"
    status = 503


def is_data_fault(exc: BaseException) -> bool:
    """True when the database refused the rows themselves (a foreign key, a too-long value, a value the
    driver cannot bind): retrying them can never succeed. False for everything else (a connection lost,
    a database restarting, a lock timeout), where the same rows will go in once the database is back."""
    if isinstance(exc, (IntegrityError, DataError)):
        return True
    # SQLAlchemy wraps a bind failure (say, a value json.dumps refuses) without any DBAPI error inside.
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


class Unwritten(Exception):
    """The database could not be reached part-way through: `rest` were not written (in order)."""

    def __init__(self, rest: list[Any], cause: BaseException, written: int = 0) -> None:
        super().__init__(f"{len(rest)} items not written: {cause!r}")
        self.rest = rest
        self.cause = cause
        self.written = written


class BatchingWriter(ABC):
    """A background task calls `flush()` every `interval` seconds; `close()` refuses new work, stops the task
    and flushes what is left (retrying a few times). Subclasses say what `flush()` writes."""

    name = "writer"

    def __init__(self, interval: float, metrics: Metrics | None = None) -> None:
        self._interval = interval
        self._metrics = metrics
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._closed = False

    async def write_isolated(self, items: Sequence[T], write: Callable[[Sequence[T]], Awaitable[None]]) -> int:
        """`write(items)` in one go; if the database refuses that batch for its data, each item alone, and an item
        refused for its data is logged and dropped (counted in `live_writer_dropped_rows`), so one bad row never
        holds back the others. Raises `Unwritten` with the items not yet written when the database cannot be
        reached (the caller keeps them for the next try). Returns how many items were written."""
        try:
            await write(items)
            return len(items)
        except Exception as exc:
            if not is_data_fault(exc):
                raise Unwritten(list(items), exc) from exc
            log.warning("%s: the database refused a batch of %d (%s); writing them one by one",
                        self.name, len(items), type(exc).__name__)
        written = 0
        for index, item in enumerate(items):
            try:
                await write([item])
                written += 1
            except Exception as exc:
                if not is_data_fault(exc):
                    raise Unwritten(list(items[index:]), exc, written) from exc
                log.error("%s: dropped a row the database refuses: %r (%s)", self.name, item, _first_line(exc))
                if self._metrics is not None:
                    self._metrics.writer_dropped.labels(self.name).inc()
        return written

    @property
    @abstractmethod
    def pending(self) -> int:
        """How many items wait to be written."""

    @abstractmethod
    async def flush(self) -> int:
        """Writes what is pending (under `self._lock`); returns how many items."""

    def ensure_open(self) -> None:
        """Refuses before anything is accepted, so nothing is acknowledged that will not be written."""
        if self._closed:
            raise WriterClosed("The server is shutting down; try again in a moment.")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
            if self._stop.is_set():
                return  # `close()` writes the rest
            try:
                await self.flush()
            except Exception:
                # What failed stays pending and the next tick retries; the database may be restarting.
                log.exception("%s: flush failed, %d pending", self.name, self.pending)

    async def close(self) -> None:
        """Stops the periodic task without cancelling a flush under way, then writes what is left.

        A flush cancelled in the middle of its INSERT left SQLite's connection holding the write lock
        until the garbage collector finalized its statement: the flush below then waited out the busy
        timeout three times and dropped what was pending (seen in the test suite as 25-30 s teardowns)."""
        self._closed = True
        if self._task is not None:
            self._stop.set()
            done, _ = await asyncio.wait([self._task], timeout=STOP_WAIT)
            if not done:  # a flush hung on an unreachable database: its batch is kept for the retries below
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        for attempt in range(1, CLOSE_ATTEMPTS + 1):
            try:
                await self.flush()
                return
            except Exception:
                log.exception("%s: flush at close failed (attempt %d)", self.name, attempt)
                await asyncio.sleep(0.2 * attempt)
        log.error("%s: %d pending items could not be written at shutdown", self.name, self.pending)


class EventWriter(BatchingWriter):
    """`append()` is synchronous and never blocks; `flush()` writes what is pending; `close()` writes everything.

    After `close()` starts, `append()` refuses with `WriterClosed`, so a caller that acknowledges
    only after a successful append never acknowledges an event that will not be written.
    """

    name = "event-writer"

    def __init__(self, engine: AsyncEngine, interval: float, metrics: Metrics | None = None) -> None:
        super().__init__(interval, metrics)
        self._engine = engine
        self._pending: list[LogEvent] = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def append(self, event: LogEvent) -> None:
        self.ensure_open()
        self._pending.append(event)

    async def flush(self) -> int:
        """Writes every pending event (in append order); returns how many were written."""
        written = 0
        async with self._lock:
            while self._pending:
                batch = self._pending[:BATCH_MAX]
                del self._pending[: len(batch)]
                try:
                    done = await self.write_isolated(batch, self._insert)
                except Unwritten as exc:
                    self._pending[:0] = exc.rest
                    if self._metrics is not None:
                        self._metrics.events_written.inc(exc.written)
                    raise exc.cause from None
                except BaseException:
                    self._pending[:0] = batch
                    raise
                written += done
                if self._metrics is not None:
                    self._metrics.events_written.inc(done)
        return written

    async def _insert(self, events: Sequence[LogEvent]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(Event), [_row(e) for e in events])


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


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
