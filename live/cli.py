"""The `live` command: serve, migrate, seed the demo, manage staff and tokens, recompute scores."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from live.auth.model import Role
from live.errors import LiveError
from live.settings import Settings

if TYPE_CHECKING:
    # Imported where used: `live --help` should not wait for aiohttp and SQLAlchemy.
    from aiohttp import web
    from sqlalchemy.ext.asyncio import AsyncSession

P = ParamSpec("P")
T = TypeVar("T")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="live", description="Live sessions for digital high-touch customer success.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server (migrates the database first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=cmd_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="run Alembic migrations to head").set_defaults(run=cmd_db_upgrade)

    commands.add_parser("demo", help="seed idempotent demo data and print logins and links").set_defaults(
        run=cmd_demo
    )

    user = commands.add_parser("user", help="staff users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser("create", help="create a staff user")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--password", help="asked for when not given")
    create.add_argument("--name", default="")
    create.add_argument("--timezone", help="IANA zone of their working hours, e.g. Europe/Berlin (default UTC)")
    create.set_defaults(run=cmd_user_create)

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    tcreate = token_commands.add_parser("create", help="print a new API token for a staff user")
    tcreate.add_argument("--email", required=True)
    tcreate.add_argument(
        "--expires-days", type=int, default=None, metavar="N",
        help="days until the token stops working (1-365, default 90)",
    )
    tcreate.add_argument("--name", default="", help="what the token is for, shown in the token list")
    tcreate.set_defaults(run=cmd_token_create)

    scores = commands.add_parser("scores", help="engagement scores")
    score_commands = scores.add_subparsers(dest="scores_command", required=True)
    recompute = score_commands.add_parser("recompute", help="recompute scores, tiers and phases from the event log")
    recompute.add_argument("--account", help="only this account id")
    recompute.set_defaults(run=cmd_scores_recompute)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        args.run(settings, args)
    except LiveError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def _run(coro_fn: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs) -> T:
    return asyncio.run(coro_fn(*args, **kwargs))


# Garbage-collector thresholds for the server process. With CPython's defaults (700, 10, 10) a chat
# broadcast to 500 sockets (one task each) sets off collections that walk the whole heap (SQLAlchemy,
# pydantic, every participant): bench/fanout.py measured chat p99 166 ms against 54 ms for a bare
# Socket.IO server; with these thresholds and the start-up heap frozen, 45-55 ms. Cyclic garbage
# waits longer to be freed (the first generation is collected every 50,000 allocations).
GC_THRESHOLDS = (50_000, 50, 1_000)


async def _tune_gc(app: web.Application) -> None:
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    from aiohttp import web

    from live import logs
    from live.app import init_app
    from live.db.engine import upgrade_sync

    logs.configure()
    upgrade_sync(settings.database_url)
    app = init_app(settings)
    # Only the server process is tuned: an embedding process (the test suite) keeps its own collector.
    app.on_startup.append(_tune_gc)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=lambda _: print(f"live: serving on http://{args.host}:{args.port} (public URL {settings.public_url})"),
        shutdown_timeout=10,
    )


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> None:
    from live.db.engine import upgrade_sync

    upgrade_sync(settings.database_url)
    print("database is at the latest revision")


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from live.demo import seed

    _run(seed, settings)


async def _with_db(
    settings: Settings, fn: Callable[Concatenate[AsyncSession, P], Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    from live.db.engine import create_engine, session_factory, upgrade

    if settings.is_sqlite:
        # The embedded database migrates itself, so a first command on a fresh machine just works.
        await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as db:
            result = await fn(db, *args, **kwargs)
            await db.commit()
            return result
    finally:
        await engine.dispose()


def cmd_user_create(settings: Settings, args: argparse.Namespace) -> None:
    from live.auth.store import create_user

    password = args.password
    if password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise LiveError("The two passwords differ.")
    user = _run(_with_db, settings, create_user, args.email, args.role, password, args.name, args.timezone)
    print(f"created {user.role} {user.email}")


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> None:
    from live.auth.store import MAX_TOKEN_DAYS, TOKEN_DAYS, create_token, user_by_email

    days = TOKEN_DAYS if args.expires_days is None else args.expires_days
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise LiveError(f"--expires-days has value {days}; it must be between 1 and {MAX_TOKEN_DAYS}.")

    async def make(db: AsyncSession) -> str:
        user = await user_by_email(db, args.email)
        if user is None:
            raise LiveError(f"No staff user with email {args.email!r}.")
        return await create_token(db, user, args.name, days)

    print(_run(_with_db, settings, make))


def cmd_scores_recompute(settings: Settings, args: argparse.Namespace) -> None:
    from live.engagement.recompute import recompute_cli

    _run(recompute_cli, settings, args.account)
