"""The `live` command as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from live.auth.store import user_for_token
from live.db.engine import create_engine, session_factory


def live(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LIVE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "LIVE_VAR_DIR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [sys.executable, "-m", "live", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


async def test_user_and_token_create_give_a_working_api_token(tmp_path: Path) -> None:
    created = live(tmp_path, "user", "create", "--email", "Ops@Example.com", "--role", "admin", "--password", "s3cret-pass")
    assert created.returncode == 0, created.stderr
    assert "created admin ops@example.com" in created.stdout
    token = live(tmp_path, "token", "create", "--email", "ops@example.com")
    assert token.returncode == 0 and token.stdout.strip().startswith("live_")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    async with session_factory(engine)() as db:
        user = await user_for_token(db, token.stdout.strip())
        assert user is not None and user.email == "ops@example.com" and user.role == "admin"
    await engine.dispose()


def test_cli_refusals_are_one_clear_line(tmp_path: Path) -> None:
    live(tmp_path, "user", "create", "--email", "a@example.com", "--role", "host", "--password", "long-enough")
    duplicate = live(tmp_path, "user", "create", "--email", "a@example.com", "--role", "host", "--password", "x" * 9)
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr and "Traceback" not in duplicate.stderr
    short = live(tmp_path, "user", "create", "--email", "b@example.com", "--role", "host", "--password", "short")
    assert short.returncode == 2 and "at least 8" in short.stderr
    missing = live(tmp_path, "token", "create", "--email", "ghost@example.com")
    assert missing.returncode == 2 and "No staff user" in missing.stderr
    bad_role = live(tmp_path, "user", "create", "--email", "c@example.com", "--role", "king", "--password", "x" * 9)
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


def test_db_upgrade_migrates_to_head(tmp_path: Path) -> None:
    result = live(tmp_path, "db", "upgrade")
    assert result.returncode == 0 and "latest revision" in result.stdout
    again = live(tmp_path, "db", "upgrade")
    assert again.returncode == 0


async def test_token_create_takes_a_lifetime_in_days(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from live.auth.passwords import token_digest
    from live.db.tables import ApiToken

    live(tmp_path, "user", "create", "--email", "ops@example.com", "--role", "host", "--password", "s3cret-pass")
    token = live(tmp_path, "token", "create", "--email", "ops@example.com", "--expires-days", "7", "--name", "cron")
    assert token.returncode == 0, token.stderr
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    async with session_factory(engine)() as db:
        row = (await db.execute(select(ApiToken).where(ApiToken.token_hash == token_digest(token.stdout.strip())))).scalar_one()
        assert row.name == "cron" and row.expires_at is not None
        assert timedelta(days=6) < row.expires_at - datetime.now(UTC) <= timedelta(days=7)
    await engine.dispose()
    too_long = live(tmp_path, "token", "create", "--email", "ops@example.com", "--expires-days", "366")
    assert too_long.returncode == 2 and "between 1 and 365" in too_long.stderr
