"""Does signing in stall the server, and does the answer time tell who has an account?

    .venv/bin/python bench/login.py [--attempts 24] [--concurrency 4]

Serves the app (SQLite, one staff user, sign-in throttle off so every attempt is verified) on a thread of
its own, then from this thread: `/healthz` latency while idle, and while `--attempts` wrong passwords go
in `--concurrency` at a time, with argon2 on a worker thread (as shipped) and, as the baseline, on the
event loop (as before). Last, the median time of a wrong password for a known email and for an unknown one.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from live.app import init_app
from live.auth import passwords, store
from live.auth.store import create_user
from live.db.engine import create_engine, session_factory, upgrade
from live.settings import Settings

EMAIL, PASSWORD = "host@bench.test", "correct horse 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings, ready: threading.Event, stop: threading.Event) -> None:
    async def main() -> None:
        runner = web.AppRunner(init_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(settings.public_url.rsplit(":", 1)[1])).start()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await runner.cleanup()

    asyncio.run(main())


async def csrf(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "/login") as response:
        match = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
        assert match
        return match.group(1)


async def sign_in(http: aiohttp.ClientSession, url: str, token: str, email: str, password: str) -> float:
    start = time.perf_counter()
    data = {"email": email, "password": password, "csrf_token": token}
    async with http.post(url + "/login", data=data, allow_redirects=False) as response:
        await response.read()
        assert response.status == 401, response.status
    return time.perf_counter() - start


async def health_during(url: str, work: Callable[[], Awaitable[Any]] | None) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        task = asyncio.ensure_future(work()) if work else None
        deadline = time.perf_counter() + 2.0
        while (task is not None and not task.done()) or (task is None and time.perf_counter() < deadline):
            start = time.perf_counter()
            async with http.get(url + "/healthz") as response:
                await response.read()
            latencies.append(time.perf_counter() - start)
        if task is not None:
            await task
    return latencies


async def storm(url: str, attempts: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await csrf(http, url)

        async def one(i: int) -> None:
            async with gate:
                await sign_in(http, url, token, EMAIL, f"wrong {i}")

        await asyncio.gather(*(one(i) for i in range(attempts)))


def row(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {ms[-1]:.1f} |"


async def bench(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp())
    url_db = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade(url_db)
    engine = create_engine(url_db)
    async with session_factory(engine)() as db:
        await create_user(db, EMAIL, "host", PASSWORD)
        await db.commit()
    await engine.dispose()
    port = free_port()
    settings = Settings(database_url=url_db, secret_key="b" * 48, public_url=f"http://127.0.0.1:{port}",
                        var_dir=tmp / "var", login_free_failures=10**6, login_address_free_failures=10**6)
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=serve, args=(settings, ready, stop), daemon=True)
    thread.start()
    ready.wait(30)
    url = settings.public_url
    try:
        print(f"/healthz latency (ms) while {args.attempts} wrong passwords go in {args.concurrency} at a time\n")
        print("| case | requests | median | max |\n|---|---|---|---|")
        print(row("idle", await health_during(url, None)))
        print(row("sign-ins, argon2 on a worker thread (shipped)",
                  await health_during(url, lambda: storm(url, args.attempts, args.concurrency))))
        shipped = store.verify_password_async

        async def on_the_loop(password_hash: str | None, password: str) -> bool:
            return passwords.verify_password(password_hash, password)

        store.verify_password_async = on_the_loop  # the baseline: what the code did before
        try:
            print(row("sign-ins, argon2 on the event loop (before)",
                      await health_during(url, lambda: storm(url, args.attempts, args.concurrency))))
        finally:
            store.verify_password_async = shipped
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = await csrf(http, url)
            known = [await sign_in(http, url, token, EMAIL, "wrong") for _ in range(10)]
            unknown = [await sign_in(http, url, token, f"nobody{i}@bench.test", "wrong") for i in range(10)]
        print("\nTime of one wrong sign-in (ms)\n\n| email | requests | median | max |\n|---|---|---|---|")
        print(row("known", known))
        print(row("unknown", unknown))
    finally:
        stop.set()
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
