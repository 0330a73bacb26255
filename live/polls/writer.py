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
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from live.db.tables import PollTally, PollVote
from live.events.writer import BatchingWriter, Unwritten

if TYPE_CHECKING:
    from live.metrics import Metrics


class PollWriter(BatchingWriter):
    name = "poll-writer"

    def __init__(self, engine: AsyncEngine, interval: float, metrics: Metrics | None = None) -> None:
        super().__init__(interval, metrics)
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
        """Writes every pending vote and counter change; returns how many votes.

        Normally one transaction. A vote the database refuses (its poll was deleted: a foreign key) is
        dropped alone, after the batch is retried vote by vote (`write_isolated`); a database that cannot be
        reached keeps everything not yet written for the next flush."""
        async with self._lock:
            if not self._votes and not any(self._deltas.values()):
                return 0
            votes, self._votes = self._votes, {}
            deltas, self._deltas = self._deltas, defaultdict(int)
            changes = [{"p": poll_id, "o": option, "d": change} for (poll_id, option), change in deltas.items() if change]
            try:
                written = await self.write_isolated(list(votes.items()), lambda rows: self._write(rows, changes))
                if changes:  # every vote was refused: the counters of the others still count
                    await self._write([], changes)
            except Unwritten as exc:
                # What is still unwritten goes back; anything recorded meanwhile is newer and wins.
                self._put_back(dict(exc.rest), changes)
                raise exc.cause from None
            except BaseException:
                self._put_back(votes, changes)
                raise
            return written

    async def _write(self, rows: Sequence[tuple[tuple[str, str], tuple[int, ...] | None]], changes: list[dict[str, Any]]) -> None:
        """One transaction: these votes and, until they are committed once, the counter changes. The counters'
        UPDATE cannot fail for a deleted poll (it matches no row), so a retry vote by vote commits them with
        the first vote that goes in, and never again (the list is emptied after that commit)."""
        async with self._engine.begin() as conn:
            await _upsert_votes(conn, dict(rows))
            if changes:
                tallies = cast(Table, PollTally.__table__)
                await conn.execute(
                    update(tallies)
                    .where(and_(tallies.c.poll_id == bindparam("p"), tallies.c.option == bindparam("o")))
                    .values(count=tallies.c.count + bindparam("d")),
                    changes,
                )
        changes.clear()

    def _put_back(self, votes: dict[tuple[str, str], tuple[int, ...] | None], changes: list[dict[str, Any]]) -> None:
        self._votes = votes | self._votes
        for change in changes:
            self._deltas[(change["p"], change["o"])] += change["d"]


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
    from live.typedefs import ENGINE, METRICS, SETTINGS

    writer = PollWriter(app[ENGINE], app[SETTINGS].event_flush_interval, app[METRICS])
    writer.start()
    app[POLL_WRITER] = writer
    yield
    await writer.close()
