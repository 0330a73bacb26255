"""`live demo` seeds a usable, idempotent demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from live.db.engine import create_engine, session_factory
from live.db.tables import Account, LiveSession, User


def run_demo(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIVE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
           "LIVE_VAR_DIR": str(tmp_path / "var"), "LIVE_PUBLIC_URL": "http://127.0.0.1:8080"}
    return subprocess.run([sys.executable, "-m", "live", "demo"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


async def test_the_demo_seeds_every_tier_phase_and_kind_once(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Demo data created." in first.stdout
    assert "admin@live.test" in first.stdout and "password: admin-pass-1" in first.stdout
    assert "http://127.0.0.1:8080/join/" in first.stdout and "/live" in first.stdout
    second = run_demo(tmp_path)
    assert second.returncode == 0 and "already present" in second.stdout

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    async with session_factory(engine)() as db:
        assert (await db.execute(select(func.count()).select_from(User))).scalar_one() == 3
        accounts = (await db.execute(select(Account))).scalars().all()
        assert len(accounts) == 12
        assert {a.tier for a in accounts} == {"high", "low", "tech"}
        assert {a.phase for a in accounts} == {"onboarding", "establishment", "utilization", "self_driving"}
        kinds = {s.kind for s in (await db.execute(select(LiveSession))).scalars()}
        assert kinds == {"webinar", "welcome_seminar", "one_on_one"}
    await engine.dispose()


async def test_the_demo_history_agrees_with_every_account_s_tier_phase_and_health(tmp_path: Path) -> None:
    from live.db.tables import AccountHistory

    assert run_demo(tmp_path).returncode == 0
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    try:
        async with session_factory(engine)() as db:
            accounts = (await db.execute(select(Account))).scalars().all()
            rows = (await db.execute(select(AccountHistory).order_by(AccountHistory.id))).scalars().all()
            for account in accounts:
                last = {h.field: h.new for h in rows if h.account_id == account.id}
                for field in ("tier", "phase", "health"):
                    # The newest history row of a field names its current value (or it never changed).
                    assert last.get(field, getattr(account, field)) == getattr(account, field), (account.name, field)
            hooli = next(a for a in accounts if a.name == "Hooli")
            assert {h.field for h in rows if h.account_id == hooli.id} >= {"tier", "health", "phase"}
    finally:
        await engine.dispose()
