"""The nightly job: exactly one process runs it per day, and it lets inactivity act without a session."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from live.db.engine import create_engine, session_factory
from live.db.tables import Account, Invitation, JobRun, LiveSession, SessionScore
from live.engagement.scheduler import NIGHTLY, SCHEDULER, elect, run_nightly
from tests.conftest import LiveServer, ServerFactory, StaffMember
from tests.engagement.support import api, eventually, new_account


async def test_concurrent_elections_on_postgres_pick_exactly_one_runner_per_day(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        factory = session_factory(engine)
        now = datetime.now(UTC)
        first = await asyncio.gather(*(elect(factory, "job", f"runner-{n}", now) for n in range(8)))
        assert first.count(True) == 1  # the row did not exist: one INSERT wins
        later = now + timedelta(hours=12)
        assert not any(await asyncio.gather(*(elect(factory, "job", f"r{n}", later) for n in range(8))))
        tomorrow = now + timedelta(hours=23, minutes=1)
        second = await asyncio.gather(*(elect(factory, "job", f"next-{n}", tomorrow) for n in range(8)))
        assert second.count(True) == 1  # the conditional UPDATE lets one through
        async with factory() as db:
            row = (await db.execute(select(JobRun).where(JobRun.name == "job"))).scalar_one()
            assert row.runner == f"next-{second.index(True)}" and row.last_run_at == tomorrow
    finally:
        await engine.dispose()


async def test_two_app_processes_on_one_database_run_the_nightly_job_once(
    make_server: ServerFactory, postgres_url: str
) -> None:
    servers = [await make_server(postgres_url, scheduler_interval=0.05) for _ in range(2)]

    async def ran() -> bool:
        return sum(s.app[SCHEDULER].runs for s in servers) >= 1

    await eventually(ran)
    await asyncio.sleep(0.5)  # ten more checks each: nobody runs it again today
    assert sorted(s.app[SCHEDULER].runs for s in servers) == [0, 1]
    winner = next(s for s in servers if s.app[SCHEDULER].runs == 1)
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(JobRun).where(JobRun.name == NIGHTLY))).one()
        assert row.runner == winner.app[SCHEDULER].runner
    finally:
        await engine.dispose()


async def test_the_nightly_job_puts_an_inactive_account_at_risk_and_proposes_a_check_in(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm = staff["csm"]
    account = await new_account(server, csm.token, "Dormant", mrr=5_000)
    assert account["tier"] == "low"
    engine = create_engine(server.settings.database_url)
    try:
        async with session_factory(engine)() as db:
            # Signed two months ago, in the system for three days, in utilization, never at a session
            # although invited to two webinars in the last 45 days (what makes inactivity a risk).
            now = datetime.now(UTC)
            await db.execute(
                update(Account)
                .where(Account.id == account["id"])
                .values(signed_at=now - timedelta(days=60), created_at=now - timedelta(days=3), phase="utilization")
            )
            contact_id = account["contacts"][0]["id"]
            for n, days_ago in enumerate((25, 15)):
                ended = now - timedelta(days=days_ago)
                session = LiveSession(
                    kind="webinar", title=f"Webinar {n}", starts_at=ended - timedelta(hours=1), duration_minutes=60,
                    host_id=staff["host"].id, status="ended", started_at=ended - timedelta(hours=1), ended_at=ended,
                    scored_at=ended,
                )
                db.add(session)
                await db.flush()
                db.add(Invitation(session_id=session.id, contact_id=contact_id, token=f"t-{session.id}"))
                db.add(SessionScore(session_id=session.id, contact_id=contact_id, account_id=account["id"],
                                    kind="webinar", ended_at=ended, score=0.0, attended=False))
            await db.commit()
    finally:
        await engine.dispose()
    assert await run_nightly(server.app)
    assert not await run_nightly(server.app)  # once a day

    after = await api(server, "GET", f"/api/v1/accounts/{account['id']}", csm.token)
    assert after["health"] == "at_risk" and after["tier"] == "high"
    raised = next(h for h in after["history"] if h["field"] == "health")
    assert raised["rule"] == "at_risk_inactivity" and raised["numbers"]["days_inactive"] >= 45
    # Evaluated at the midnights, not at the time the job happened to run.
    assert datetime.fromisoformat(raised["at"]).time() == datetime.min.time()

    async def proposed() -> object:
        sessions = await api(server, "GET", "/api/v1/sessions?kind=one_on_one", csm.token)
        return [s for s in sessions if s["account_id"] == account["id"] and s["proposed"]]

    [check_in] = await eventually(proposed)
    dropped = await api(server, "DELETE", f"/api/v1/sessions/{check_in['id']}", csm.token)
    assert dropped["status"] == "cancelled"
