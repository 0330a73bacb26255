"""The batching event writer: appends never wait, flushes batch, close writes everything and then refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from live.db.engine import create_engine
from live.db.tables import Event
from live.events.model import EventType, LogEvent
from live.events.store import session_events
from live.events.writer import EventWriter, WriterClosed, _row
from live.metrics import Metrics


def event(n: int, session: str = "s1") -> LogEvent:
    at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return LogEvent(session, EventType.CHAT_MESSAGE, at, f"c_{n % 3}", {"id": f"m{n}", "text": f"<{n}>"})


async def test_appended_events_are_written_in_order_and_read_back_equal(database_url: str) -> None:
    engine = create_engine(database_url)
    metrics = Metrics()
    writer = EventWriter(engine, interval=60, metrics=metrics)
    events = [event(n) for n in range(25)] + [event(99, "s2")]
    for e in events:
        writer.append(e)
    assert writer.pending == 26
    assert await writer.flush() == 26
    assert await session_events(engine, "s1") == events[:25]
    assert await session_events(engine, "s2", (EventType.CHAT_MESSAGE,)) == events[25:]
    assert metrics.events_written._value.get() == 26
    await writer.close()
    await engine.dispose()


async def test_the_background_task_flushes_without_being_asked(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    writer = EventWriter(engine, interval=0.01)
    writer.start()
    writer.append(event(1))
    for _ in range(200):
        if await session_events(engine, "s1"):
            break
        await asyncio.sleep(0.01)
    assert await session_events(engine, "s1") == [event(1)]
    await writer.close()
    await engine.dispose()


async def test_close_writes_everything_and_then_refuses_appends(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    writer = EventWriter(engine, interval=60)
    writer.start()
    for n in range(7000):  # more than one batch
        writer.append(event(n))
    await writer.close()
    assert len(await session_events(engine, "s1")) == 7000
    with pytest.raises(WriterClosed) as exc:
        writer.append(event(1))
    assert exc.value.code == "unavailable"
    await engine.dispose()


class SlowWriter(EventWriter):
    """Holds each INSERT's transaction open a moment before it commits, and notes whether one was cancelled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inside = asyncio.Event()
        self.cancelled = 0

    async def _insert(self, events: Sequence[LogEvent]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(Event), [_row(e) for e in events])
            self.inside.set()
            try:
                await asyncio.sleep(0.3)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise


async def test_close_lets_a_flush_under_way_finish_and_loses_nothing(sqlite_url: str) -> None:
    # Cancelling a flush in the middle of its INSERT left SQLite's write lock held until the garbage
    # collector ran: the final flush then timed out and the last events were dropped at shutdown.
    engine = create_engine(sqlite_url)
    writer = SlowWriter(engine, interval=0.01)
    writer.start()
    for n in range(5):
        writer.append(event(n))
    await asyncio.wait_for(writer.inside.wait(), 10)  # the periodic flush is inside its transaction
    writer.append(event(5))  # arrives meanwhile: written by close()
    await writer.close()
    assert writer.cancelled == 0
    assert await session_events(engine, "s1") == [event(n) for n in range(6)]
    await engine.dispose()


async def test_a_failed_flush_keeps_the_events_for_the_next_try(sqlite_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    broken = create_async_engine("sqlite+aiosqlite:////nonexistent-dir/x.db")
    writer = EventWriter(broken, interval=60)
    writer.append(event(1))
    with pytest.raises(Exception):  # noqa: B017 - any driver error
        await writer.flush()
    assert writer.pending == 1
    await broken.dispose()
