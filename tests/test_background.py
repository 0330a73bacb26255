"""Background loops of an app context: stopped between rounds when they take a stop event, else cancelled."""

from __future__ import annotations

import asyncio
import contextlib

from live.background import running


async def looping(stop: asyncio.Event, rounds: list[int], cancelled: list[int], round_seconds: float) -> None:
    """Rounds of `round_seconds` of work (a database write, say) until `stop` is set between two of them."""
    while not stop.is_set():
        try:
            await asyncio.sleep(round_seconds)
        except asyncio.CancelledError:
            cancelled.append(len(rounds))
            raise
        rounds.append(len(rounds))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.01)


async def test_a_loop_with_a_stop_event_finishes_its_round_and_is_never_cancelled_in_the_middle() -> None:
    stop, rounds, cancelled = asyncio.Event(), list[int](), list[int]()
    async with running(looping(stop, rounds, cancelled, 0.2), "test-loop", stop=stop):
        await asyncio.sleep(0.1)  # the first round is under way when the context exits
    assert cancelled == []
    assert rounds == [0]


async def test_a_loop_that_does_not_end_within_its_grace_is_cancelled() -> None:
    stop, rounds, cancelled = asyncio.Event(), list[int](), list[int]()
    async with running(looping(stop, rounds, cancelled, 5.0), "test-loop", stop=stop, grace=0.1):
        await asyncio.sleep(0.05)
    assert cancelled == [0] and rounds == []
