"""A background task that lives as long as an app context: started on entry, stopped and awaited on exit.

A loop that writes to the database should take a `stop` event and end between rounds once it is set:
cancelled in the middle of a write, its SQLite connection keeps the write lock until the garbage
collector finalizes the statement, and the shutdown's own writes then wait out the busy timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running(
    coroutine: Coroutine[Any, Any, None], name: str, *, stop: asyncio.Event | None = None, grace: float = 10.0
) -> AsyncIterator[asyncio.Task[None]]:
    """`async with running(loop(), "name"): yield` inside an aiohttp cleanup context. With `stop`, the exit
    sets it and gives the loop `grace` seconds to end by itself before cancelling it."""
    task = asyncio.create_task(coroutine, name=name)
    try:
        yield task
    finally:
        if stop is not None:
            stop.set()
            await asyncio.wait([task], timeout=grace)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def rounds(work: Callable[[], Awaitable[Any]], every: float, stop: asyncio.Event, what: str) -> None:
    """`work()` now and every `every` seconds until `stop` is set between two rounds (for `running(..., stop=)`);
    a round that fails is logged as `what` and the next one retries."""
    while not stop.is_set():
        try:
            await work()
        except Exception:
            log.exception("%s failed; the next round retries", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
