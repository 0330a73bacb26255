"""Integration fixtures: the real app on a free loopback port over SQLite or PostgreSQL, and staff to drive it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from live.app import init_app
from live.auth.store import create_token, create_user
from live.db.engine import create_engine, session_factory, upgrade, upgrade_sync
from live.settings import Settings
from tests.rooms.support import SCHEMA_VIOLATIONS

POSTGRES_URL = os.environ.get("LIVE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEMPLATE_DB = f"live_tpl_{os.getpid()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_admin_dsn() -> str:
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_url_for(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def received_events_follow_the_protocol() -> Iterator[None]:
    """Every event a test's Socket.IO clients received matched its model in `live.rooms.outbound.OUTBOUND`
    (see tests/rooms/support.py): otherwise the test fails, even if it never looked at that event."""
    SCHEMA_VIOLATIONS.clear()
    yield
    problems, SCHEMA_VIOLATIONS[:] = list(SCHEMA_VIOLATIONS), []
    assert not problems, "events received that break the protocol:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """One migrated template database per test run; each test copies it (fast) and drops its copy."""

    def prepare() -> None:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))
        asyncio.run(_pg_exec(f'CREATE DATABASE "{TEMPLATE_DB}"'))
        upgrade_sync(_pg_url_for(TEMPLATE_DB))

    # Requested from inside async fixtures too: do the blocking work on a thread with its own loop.
    _in_thread(prepare)
    yield TEMPLATE_DB
    _in_thread(lambda: asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')))


def _in_thread(fn: Callable[[], object]) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(fn).result()


async def new_postgres_database(template: str) -> str:
    name = f"live_t_{uuid.uuid4().hex[:12]}"
    await _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


async def new_sqlite_database(directory: Path) -> str:
    url = f"sqlite+aiosqlite:///{directory / f'live-{uuid.uuid4().hex[:8]}.db'}"
    await upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Runs the test once on SQLite and once on PostgreSQL, each with a fresh migrated database."""
    if request.param == "sqlite":
        yield await new_sqlite_database(tmp_path)
        return
    template = request.getfixturevalue("pg_template")
    name = await new_postgres_database(template)
    yield _pg_url_for(name)
    await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    return await new_sqlite_database(tmp_path)


@pytest.fixture
async def postgres_url(pg_template: str) -> AsyncIterator[str]:
    name = await new_postgres_database(pg_template)
    yield _pg_url_for(name)
    await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""


@dataclass
class LiveServer:
    """The real app served on a loopback port, with a small HTTP client bound to it."""

    app: web.Application
    runner: web.AppRunner
    settings: Settings
    url: str
    http: aiohttp.ClientSession

    async def request(
        self, method: str, path: str, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.url + path, json=json, headers=headers, **kwargs) as resp:
            text = await resp.text()
            body: Any = text
            if resp.content_type == "application/json":
                body = await resp.json()
            return Response(resp.status, body, dict(resp.headers), text)

    async def stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()


async def start_server(settings: Settings) -> LiveServer:
    app = init_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    port = int(settings.public_url.rsplit(":", 1)[1])
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    return LiveServer(app=app, runner=runner, settings=settings, url=settings.public_url, http=http)


def settings_for(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    port = free_port()
    base = Settings(
        database_url=database_url,
        secret_key="test-secret-key-" + uuid.uuid4().hex,
        public_url=f"http://127.0.0.1:{port}",
        var_dir=tmp_path / "var",
        outbox_interval=0.2,
    )
    return replace(base, **overrides)


ServerFactory = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Starts as many servers as a test wants (`await make_server(database_url, redis_url=...)`)."""
    servers: list[LiveServer] = []

    async def make(database_url: str, **overrides: Any) -> LiveServer:
        server = await start_server(settings_for(database_url, tmp_path, **overrides))
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()


@pytest.fixture
async def server(make_server: ServerFactory, database_url: str) -> LiveServer:
    """The app on SQLite and then on PostgreSQL."""
    return await make_server(database_url)


@pytest.fixture
async def sqlite_server(make_server: ServerFactory, sqlite_url: str) -> LiveServer:
    """The app on SQLite only, for tests whose subject is not the database."""
    return await make_server(sqlite_url)


@dataclass(frozen=True)
class StaffMember:
    id: str
    email: str
    role: str
    token: str
    password: str


async def add_staff(database_url: str, email: str, role: str, password: str = "correct horse 1") -> StaffMember:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            user = await create_user(db, email, role, password)
            token = await create_token(db, user)
            await db.commit()
            return StaffMember(user.id, user.email, user.role, token, password)
    finally:
        await engine.dispose()


@pytest.fixture
async def staff(server: LiveServer) -> dict[str, StaffMember]:
    """An admin, a host and a CSM with API tokens, in the server's database."""
    url = server.settings.database_url
    return {
        "admin": await add_staff(url, "admin@example.com", "admin"),
        "host": await add_staff(url, "host@example.com", "host"),
        "csm": await add_staff(url, "csm@example.com", "csm"),
    }


@pytest.fixture
async def sqlite_staff(sqlite_server: LiveServer) -> dict[str, StaffMember]:
    url = sqlite_server.settings.database_url
    return {
        "admin": await add_staff(url, "admin@example.com", "admin"),
        "host": await add_staff(url, "host@example.com", "host"),
        "csm": await add_staff(url, "csm@example.com", "csm"),
    }
