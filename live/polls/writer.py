"""The batching vote writer: `PollVote` rows (who voted, and what unless anonymous) and `PollTally` counters.

A vote is acknowledged once the shared board (memory or Redis) has it; its rows are written off the
realtime path, like the event log's: `record()` never waits, a background task flushes every
`event_flush_interval`, and `close()` (at shutdown, after every socket has left) writes the rest.

Re-votes coalesce: only each person's latest choices are written. Counters are written as *deltas*
(`count = count + n`), which commute, so several processes each flushing their own votes add up to
exactly the board's counts whatever order their transactions commit in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, cast

from aiohttp import web
from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from live.db.tables import PollTally, PollVote
from live.events.writer import BatchingWriter


class PollWriter(BatchingWriter):
    name = "poll-writer"

    def __init__(self, engine: AsyncEngine, interval: float) -> None:
        super().__init__(interval)
        self._engine = engine
        # (poll id, participant id) -> latest choices (None for an anonymous poll).
        self._votes: dict[tuple[str, str], tuple[int, ...] | None] = {}
        # (poll id, option) -> change of its counter since the last flush.
        self._deltas: dict[tuple[str, int], int] = defaultdict(int)

    @property
    def pending(self) -> int:
        return len(self._votes)

    def record(self, poll_id: str, participant_id: str, choices: tuple[int, ...] | None, delta: dict[int, int]) -> None:
        self._votes[(poll_id, participant_id)] = choices
        for option, change in delta.items():
            self._deltas[(poll_id, option)] += change

    async def flush(self) -> int:
        """Writes every pending vote and counter change in one transaction; returns how many votes."""
        async with self._lock:
            if not self._votes and not any(self._deltas.values()):
                return 0
            votes, self._votes = self._votes, {}
            deltas, self._deltas = self._deltas, defaultdict(int)
            try:
                async with self._engine.begin() as conn:
                    await _upsert_votes(conn, votes)
                    changes = [
                        {"p": poll_id, "o": option, "d": change} for (poll_id, option), change in deltas.items() if change
                    ]
                    if changes:
                        tallies = cast(Table, PollTally.__table__)
                        await conn.execute(
                            update(tallies)
                            .where(and_(tallies.c.poll_id == bindparam("p"), tallies.c.option == bindparam("o")))
                            .values(count=tallies.c.count + bindparam("d")),
                            changes,
                        )
            except BaseException:
                # Put them back; anything recorded meanwhile is newer and wins.
                self._votes = votes | self._votes
                for key, change in deltas.items():
                    self._deltas[key] += change
                raise
            return len(votes)


async def _upsert_votes(conn: Any, votes: dict[tuple[str, str], tuple[int, ...] | None]) -> None:
    if not votes:
        return
    rows = [
        {"poll_id": poll_id, "participant_id": pid, "choices": None if choices is None else list(choices)}
        for (poll_id, pid), choices in votes.items()
    ]
    # The latest vote wins: INSERT ... ON CONFLICT DO UPDATE, which PostgreSQL and SQLite both speak.
    from sqlalchemy.dialects import postgresql, sqlite

    statement: Any = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(PollVote)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[PollVote.poll_id, PollVote.participant_id], set_={"choices": statement.excluded.choices}
        ),
        rows,
    )


POLL_WRITER: web.AppKey[PollWriter] = web.AppKey("poll_writer")


async def poll_writer_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: after the database is open; closed (writing everything) before it is disposed."""
    from live.typedefs import ENGINE, SETTINGS

    writer = PollWriter(app[ENGINE], app[SETTINGS].event_flush_interval)
    writer.start()
    app[POLL_WRITER] = writer
    yield
    await writer.close()
