"""A restart resumes the loop: a session that ended while its process stopped before scoring it is scored
when a process starts again, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from live.bus import BUS
from live.db.engine import create_engine, session_factory
from live.db.tables import LiveSession, SessionScore
from live.domain_events import SessionEnded
from live.engagement.service import on_session_ended
from tests.conftest import ServerFactory, add_staff
from tests.engagement.support import eventually, new_account, schedule
from tests.engagement.test_service import query, run_seminar


async def test_a_session_left_unscored_by_a_stopped_process_is_scored_on_the_next_start(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    first = await make_server(sqlite_url, scheduler_interval=3600)
    # This process "stops" between the end and the scoring: its loop callback never runs.
    first.app[BUS].unsubscribe(SessionEnded, on_session_ended)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    account = await new_account(first, csm.token, "Came", contacts=1)
    seminar = await schedule(first, csm.token, host.email, kind="welcome_seminar", title="Welcome")
    await run_seminar(first, host, seminar, account["contacts"][0]["id"])
    await first.stop()
    assert await query(first, select(SessionScore).where(SessionScore.session_id == seminar["id"])) == []

    # The end is long enough ago that no live callback can still be on its way.
    engine = create_engine(sqlite_url)
    async with session_factory(engine)() as db:
        await db.execute(
            update(LiveSession)
            .where(LiveSession.id == seminar["id"])
            .values(ended_at=datetime.now(UTC) - timedelta(minutes=5))
        )
        await db.commit()
    await engine.dispose()

    second = await make_server(sqlite_url, scheduler_interval=3600)

    async def scored() -> list[object] | None:
        rows = await query(second, select(SessionScore).where(SessionScore.session_id == seminar["id"]))
        return rows or None

    [row] = await eventually(scored)
    assert row.contact_id == account["contacts"][0]["id"] and row.attended
    [session] = await query(second, select(LiveSession).where(LiveSession.id == seminar["id"]))
    assert session.scored_at is not None
