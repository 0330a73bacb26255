"""A redis-py asyncio client that sends the commands issued in one event-loop turn as one pipeline.

Why: a join storm or a vote burst has hundreds of tasks each awaiting a few small Redis commands. With
plain redis-py every command is its own round trip: a pool checkout, a socket write, a wake-up for the
answer, a release, and the client's per-command bookkeeping. Here a command is queued, and at the end
of the current loop turn everything queued goes out as one non-transactional pipeline on one
connection: the same commands, in the order they were issued, for one round trip. A lone command goes
out as it would have (no pipeline).

What does not change: every command keeps its own result or error (`ResponseError`s are set on the
command that caused them; a connection error fails every command of that batch, as it would have
failed each of them); MULTI pipelines (`client.pipeline()`), scripts (`register_script`: a missing
script is loaded and retried as before) and pub/sub work as with redis-py's own client. A task that
awaits command A before issuing command B still gets A's answer first: B goes in a later batch.
Commands of different tasks had no order between them before (each on its own pooled connection); in a
batch they are run in the order they were issued.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as redis

# The most commands one pipeline carries; a longer queue goes in several (each one round trip).
MAX_BATCH = 512

_Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]


class AutoPipelineRedis(redis.Redis):
    """`redis.asyncio.Redis` whose `execute_command` batches per event-loop turn (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: list[_Queued] = []
        self._flushing: set[asyncio.Task[None]] = set()
        # Counters for tests and benchmarks: commands sent, and the round trips they took.
        self.commands_sent = 0
        self.round_trips = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((args, options, future))
        return await future

    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), MAX_BATCH):
            task = asyncio.ensure_future(self._send(queued[start : start + MAX_BATCH]))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _send(self, batch: list[_Queued]) -> None:
        self.commands_sent += len(batch)
        self.round_trips += 1
        if len(batch) == 1:
            args, options, future = batch[0]
            try:
                result = await super().execute_command(*args, **options)
            except BaseException as exc:  # handed to the caller, whose command it was
                _fail(future, exc)
            else:
                if not future.done():
                    future.set_result(result)
            return
        pipe = self.pipeline(transaction=False)
        for args, options, _ in batch:
            pipe.pipeline_execute_command(*args, **options)
        try:
            results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed: every command of the batch did
            for _, _, future in batch:
                _fail(future, exc)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Lets what is queued or in flight finish before the connections close."""
        await asyncio.sleep(0)  # a batch queued in this turn is flushed at its end
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        await super().aclose(close_connection_pool)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)
