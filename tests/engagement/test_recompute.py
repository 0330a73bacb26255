"""`live scores recompute`: replaying the event log gives exactly what the incremental path wrote; and the
evaluation timeline both paths share."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from live.db.engine import create_engine, session_factory
from live.db.tables import Account, AccountHistory, SessionScore
from live.engagement.recompute import account_timeline, daily_ticks, recompute, reset_account
from live.engagement.service import Loop, catch_up_all
from live.typedefs import ENGAGEMENT
from tests.conftest import LiveServer, StaffMember
from tests.engagement.support import eventually, join, new_account, ok, schedule, token_of


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_daily_ticks_are_the_midnights_after_a_time_up_to_another() -> None:
    assert daily_ticks(at(1, 10), at(3, 9)) == [at(2), at(3)]
    assert daily_ticks(at(2), at(3)) == [at(3)]  # strictly after, inclusive at the end
    assert daily_ticks(at(3, 1), at(3, 23)) == []
    assert daily_ticks(at(3), at(1)) == []


def test_the_timeline_puts_a_tick_before_a_session_ending_at_the_same_instant_and_keeps_each_end() -> None:
    ends = [at(2), at(2, 15), at(2, 15)]
    assert account_timeline(at(1, 12), ends, at(3, 12)) == [at(2), at(2), at(2, 15), at(2, 15), at(3)]
    assert account_timeline(at(1, 12), [at(5)], at(3, 12)) == [at(2), at(3)]


async def run_session(
    server: LiveServer, host: StaffMember, session: dict[str, Any], attendees: list[str], chat: int = 1
) -> None:
    sid = session["id"]
    host_client = await join(server, host.token, sid)
    # Guests wait in the room before the start, so their share of a sub-second session does not hang on
    # how fast a loaded machine connects them.
    guests = [await join(server, token_of(session, contact_id), sid) for contact_id in attendees]
    await ok(host_client, "session.start")
    for guest in guests:
        for n in range(chat):
            await ok(guest, "chat.send", {"text": f"message {n}"})
        await ok(guest, "reaction.send", {"kind": "heart"})
    for guest in guests:
        await guest.close()
    await ok(host_client, "session.end")
    await host_client.close()
    engine = create_engine(server.settings.database_url)
    try:
        async def scored() -> bool:
            async with engine.connect() as conn:
                return (await conn.execute(select(SessionScore.id).where(SessionScore.session_id == sid))).first() is not None

        await eventually(scored)
    finally:
        await engine.dispose()


async def derived_state(db: Any) -> dict[str, Any]:
    accounts = {
        a.id: (a.tier, a.tier_source, a.phase, a.health, None if a.engagement is None else round(a.engagement, 9),
               a.engine_state)
        for a in (await db.execute(select(Account))).scalars()
    }
    history = sorted(
        (h.account_id, h.at, h.field, h.old, h.new, h.source, h.rule, h.reason, repr(h.numbers), h.evidence,
         h.config_version, h.actor)
        for h in (await db.execute(select(AccountHistory))).scalars()
    )
    scores = sorted(
        (s.session_id, s.contact_id, s.account_id, s.kind, s.ended_at, round(s.score, 9), s.attended,
         repr(s.components), s.config_version)
        for s in (await db.execute(select(SessionScore))).scalars()
    )
    return {"accounts": accounts, "history": history, "scores": scores}


async def test_a_recompute_from_the_event_log_reproduces_the_incremental_history(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm, host = staff["csm"], staff["host"]
    keen = await new_account(server, csm.token, "Keen", contacts=2)
    quiet = await new_account(server, csm.token, "Quiet", contacts=1)
    big = await new_account(server, csm.token, "Big", mrr=20_000, contacts=1)
    seminar = await schedule(server, csm.token, host.email, kind="welcome_seminar", title="Welcome")
    await run_session(server, host, seminar, [keen["contacts"][0]["id"], big["contacts"][0]["id"]])
    webinar = await schedule(server, csm.token, host.email, account_ids=[keen["id"], quiet["id"], big["id"]])
    await run_session(server, host, webinar, [c["id"] for c in keen["contacts"]] + [quiet["contacts"][0]["id"]], 3)
    second = await schedule(server, csm.token, host.email, title="Office hours", account_ids=[keen["id"], quiet["id"]])
    await run_session(server, host, second, [keen["contacts"][1]["id"]], 2)

    config = server.app[ENGAGEMENT]
    now = datetime.now(UTC) + timedelta(seconds=1)
    engine = create_engine(server.settings.database_url)
    try:
        factory = session_factory(engine)
        async with factory() as db:
            # The nightly job has caught up to `now`: the incremental state is complete up to it.
            await catch_up_all(db, Loop(config, server.settings.secret_key, server.url), now)
            incremental = await derived_state(db)
        assert incremental["accounts"][keen["id"]][2] == "establishment"
        assert incremental["accounts"][quiet["id"]][3] == "at_risk"
        assert len(incremental["scores"]) == 4 + 4 + 3  # the seminar invited every onboarding contact

        async with factory() as db:
            # Wipe everything derived, then rebuild it from the log.
            await db.execute(delete(SessionScore))
            await db.execute(
                delete(AccountHistory).where(
                    AccountHistory.source == "engine", AccountHistory.actor.is_(None), AccountHistory.old.is_not(None)
                )
            )
            for account in (await db.execute(select(Account))).scalars():
                reset_account(account, config)
            await db.commit()
        async with factory() as db:
            assert (await derived_state(db))["scores"] == []
            stats = await recompute(db, config, now)
            await db.commit()
        assert stats.sessions == 3 and stats.accounts == 3 and stats.events > 10
        async with factory() as db:
            assert await derived_state(db) == incremental

        # One account alone gives the same again.
        async with factory() as db:
            await recompute(db, config, now, account_id=keen["id"])
            await db.commit()
        async with factory() as db:
            assert await derived_state(db) == incremental
    finally:
        await engine.dispose()


async def test_the_command_recomputes_with_a_progress_bar(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], tmp_path: Path
) -> None:
    server, csm, host = sqlite_server, sqlite_staff["csm"], sqlite_staff["host"]
    account = await new_account(server, csm.token, "Solo")
    seminar = await schedule(server, csm.token, host.email, kind="welcome_seminar", title="Welcome")
    await run_session(server, host, seminar, [account["contacts"][0]["id"]])
    env = {**os.environ, "LIVE_DATABASE_URL": server.settings.database_url, "LIVE_SECRET_KEY": "x",
           "LIVE_VAR_DIR": str(tmp_path / "var")}
    for args in ([], ["--account", account["id"]]):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "live", "scores", "recompute", *args,
            env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
        stdout, stderr = out.decode(), err.decode()
        assert process.returncode == 0, stderr
        assert "recomputed 1 sessions" in stdout and "1 accounts" in stdout
        assert "sessions: 100%" in stderr and "accounts: 100%" in stderr
