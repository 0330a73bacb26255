"""A redis-py asyncio client that sends the commands issued in one event-loop turn as one pipeline.

Why: a join storm or a vote burst has hundreds of tasks each awaiting a few small Redis commands. With
plain redis-py every command is its own round trip: a pool checkout, a socket write, a wake-up for the
answer, a release, and the client's per-command bookkeeping. Here a command is queued, and at the end
of the current loop turn everything queued goes out as one non-transactional pipeline on one
connection: the same commands, in the order they were issued, for one round trip. A lone command goes
out as it would have (no pipeline).

One batch is in flight at a time: what is issued while it is out waits for its answer and then goes
as the next batch. Under load that is what makes batches large: in a 5,000-person join storm on two
processes, batching per loop turn alone left batches of a few commands (three round trips per join,
and the joins' reads seldom shared), one in flight made it 0.3 round trips per join and the storm
twice as fast (docs/benchmarks.md, run 11). When idle it costs nothing: a command issued alone goes
at once. Redis runs commands one at a time anyway, so a slow one held the others back before too.

What does not change: every command keeps its own result or error (`ResponseError`s are set on the
command that caused them; a connection error fails every command of that batch, as it would have
failed each of them); MULTI pipelines (`client.pipeline()`), scripts (`register_script`: a missing
script is loaded and retried as before) and pub/sub work as with redis-py's own client. A task that
awaits command A before issuing command B still gets A's answer first: B goes in a later batch.
Commands of different tasks had no order between them before (each on its own pooled connection); in a
batch they are run in the order they were issued.

Identical reads in one batch are sent once (`SHAREABLE`): a storm's joins all read the same few keys
(the staff, the hands, the chat) in the same moment. No command of a batch can have seen another's
effect (a task issues its next command only once its last one answered), so answering every copy of a
read with one answer is one valid order of them; each caller gets its own copy of the answer.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import redis.asyncio as redis

# The most commands one pipeline carries; a longer queue goes in several (each one round trip).
MAX_BATCH = 512
# Batches in flight at once: what is issued meanwhile is sent, as one batch, when the one in flight is
# answered (a batch longer than MAX_BATCH still goes as several).
MAX_IN_FLIGHT = 1

# Read-only commands whose identical copies in one batch share one answer.
SHAREABLE = frozenset(
    {"GET", "MGET", "EXISTS", "HGET", "HMGET", "HGETALL", "HLEN", "HEXISTS", "SMEMBERS", "SISMEMBER", "SCARD",
     "LRANGE", "LLEN", "ZRANGE", "ZSCORE", "ZCARD"}
)  # fmt: skip

_Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]


class AutoPipelineRedis(redis.Redis):
    """`redis.asyncio.Redis` whose `execute_command` sends what is issued together, or while the last batch
    was out, as one pipeline (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: list[_Queued] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._flush_due = False
        # Counters for tests and benchmarks: commands sent, and the round trips they took.
        self.commands_sent = 0
        self.round_trips = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queued and not self._flush_due and len(self._flushing) < MAX_IN_FLIGHT:
            self._flush_due = True
            loop.call_soon(self._flush)
        self._queued.append((args, options, future))
        return await future

    def _flush(self) -> None:
        self._flush_due = False
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), MAX_BATCH):
            task = asyncio.ensure_future(self._send(queued[start : start + MAX_BATCH]))
            self._flushing.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._flushing.discard(task)
        if self._queued and not self._flush_due:
            self._flush_due = True
            task.get_loop().call_soon(self._flush)

    async def _send(self, queued: list[_Queued]) -> None:
        batch = _unique(queued)
        self.commands_sent += len(batch)
        self.round_trips += 1
        if len(batch) == 1:
            args, options, futures = batch[0]
            try:
                result: Any = await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            except asyncio.CancelledError as exc:  # the loop is closing: so are the callers
                _answer(futures, exc)
                raise
            except Exception as exc:  # handed to the callers, whose command it was
                result = exc
            _answer(futures, result)
            return
        pipe = self.pipeline(transaction=False)
        for args, options, _ in batch:
            pipe.pipeline_execute_command(*args, **options)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        try:
            results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed (or the loop is closing): every command did
            for _, _, futures in batch:
                _answer(futures, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for (_, _, futures), result in zip(batch, results, strict=True):
            _answer(futures, result)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Lets what is queued or in flight finish before the connections close."""
        await asyncio.sleep(0)  # a batch queued in this turn is flushed at its end
        while self._flushing or self._queued:
            if self._flushing:
                await asyncio.gather(*self._flushing, return_exceptions=True)
            await asyncio.sleep(0)  # what waited for them is flushed next
        await super().aclose(close_connection_pool)


_Unique = tuple[tuple[Any, ...], dict[str, Any], "list[asyncio.Future[Any]]"]


def _unique(queued: list[_Queued]) -> list[_Unique]:
    """The commands to send, each shareable read once with every caller that issued it."""
    batch: list[_Unique] = []
    seen: dict[tuple[Any, ...], list[asyncio.Future[Any]]] = {}
    for args, options, future in queued:
        name = args[0].upper() if args and isinstance(args[0], str) else None
        if name in SHAREABLE:
            try:
                callers = seen.get(args)
            except TypeError:  # an unhashable argument: sent as it is
                callers = None
            else:
                if callers is not None:
                    callers.append(future)
                    continue
                callers = seen[args] = [future]
            batch.append((args, options, callers or [future]))
        else:
            batch.append((args, options, [future]))
    return batch


def _answer(futures: list[asyncio.Future[Any]], result: Any) -> None:
    """The answer (an exception: the error) to every caller still waiting; each gets its own copy."""
    for n, future in enumerate(futures):
        if future.done():  # its caller was cancelled meanwhile
            continue
        if isinstance(result, asyncio.CancelledError):
            future.cancel()
        elif isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result if n == 0 else copy.copy(result))
