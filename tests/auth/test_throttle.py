"""Failed sign-ins are throttled per account and per address, exponentially, across processes with Redis;
an unknown email is throttled like a known one; and password checks never stall the server."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from live.api.client import forwarded_client, parse_networks
from live.auth.model import lockout_seconds
from live.auth.passwords import dummy_hash
from live.db.engine import create_engine, session_factory
from live.db.tables import User
from live.redis import redis_client
from tests.auth.test_routes import csrf_from
from tests.conftest import REDIS_URL, LiveServer, ServerFactory, add_staff

# Two free failures per account, four per address, then a lockout long enough to outlast the test.
FAST = {"login_free_failures": 2, "login_address_free_failures": 4, "login_lockout_base": 120.0}


async def attempt(server: LiveServer, email: str, password: str) -> tuple[int, dict[str, str], str]:
    form = await server.request("GET", "/login")
    response = await server.request(
        "POST", "/login", data={"email": email, "password": password, "csrf_token": csrf_from(form.text)},
        allow_redirects=False,
    )
    return response.status, response.headers, response.text


def test_the_lockout_doubles_after_the_free_failures_up_to_its_cap() -> None:
    assert [lockout_seconds(n, 5, 1.0, 900.0) for n in range(1, 10)] == [0, 0, 0, 0, 1, 2, 4, 8, 16]
    assert lockout_seconds(40, 5, 1.0, 900.0) == 900.0
    assert lockout_seconds(10**6, 5, 1.0, 900.0) == 900.0


async def test_wrong_passwords_lock_the_account_with_retry_after(make_server: ServerFactory, sqlite_url: str) -> None:
    server = await make_server(sqlite_url, **FAST)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    assert (await attempt(server, host.email, "wrong one"))[0] == 401
    assert (await attempt(server, host.email, "wrong two"))[0] == 401
    status, headers, text = await attempt(server, host.email, host.password)
    assert status == 429, "locked out, even with the right password"
    assert 1 <= int(headers["Retry-After"]) <= 120 and "Too many failed sign-ins" in text
    assert "live_login" not in headers.get("Set-Cookie", "")


async def test_an_unknown_email_is_locked_out_like_a_known_one(make_server: ServerFactory, sqlite_url: str) -> None:
    server = await make_server(sqlite_url, **FAST)
    await add_staff(sqlite_url, "host@example.com", "host")
    statuses = [(await attempt(server, "nobody@example.com", f"guess {i}"))[0] for i in range(3)]
    assert statuses == [401, 401, 429]


async def test_one_address_guessing_many_accounts_is_locked_out(make_server: ServerFactory, sqlite_url: str) -> None:
    server = await make_server(sqlite_url, **FAST)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    statuses = [(await attempt(server, f"user{i}@example.com", "guess"))[0] for i in range(4)]
    assert statuses == [401, 401, 401, 401], "a different account each time: only the address counts up"
    assert (await attempt(server, host.email, host.password))[0] == 429


async def test_a_lockout_on_one_process_holds_on_another_through_redis(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    email = f"host-{uuid.uuid4().hex[:8]}@example.com"
    first = await make_server(sqlite_url, redis_url=REDIS_URL, **FAST)
    second = await make_server(sqlite_url, redis_url=REDIS_URL, **FAST)
    host = await add_staff(sqlite_url, email, "host")
    redis = redis_client(REDIS_URL)
    try:
        await redis.delete("live:login:f:address:127.0.0.1", "live:login:b:address:127.0.0.1")
        assert (await attempt(first, host.email, "wrong one"))[0] == 401
        assert (await attempt(first, host.email, "wrong two"))[0] == 401
        status, headers, _ = await attempt(second, host.email, host.password)
        assert status == 429 and int(headers["Retry-After"]) >= 1
    finally:
        keys = [f"live:login:{k}:{kind}" for k in "fb" for kind in (f"account:{email}", "address:127.0.0.1")]
        await redis.delete(*keys)
        await redis.aclose()


def test_the_dummy_hash_costs_what_a_real_password_costs() -> None:
    # An unknown email is verified against this hash: same parameters, so the same work as a real one.
    assert not PasswordHasher().check_needs_rehash(dummy_hash())


async def test_the_server_answers_other_requests_while_a_password_is_verified(
    make_server: ServerFactory, sqlite_url: str, tmp_path: Path
) -> None:
    server = await make_server(sqlite_url)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    # A hash that takes seconds to verify (argon2 reads its cost from the hash), so the overlap is certain.
    slow = PasswordHasher(time_cost=40, memory_cost=64 * 1024).hash(host.password)
    engine = create_engine(sqlite_url)
    async with session_factory(engine)() as db:
        await db.execute(update(User).where(User.id == host.id).values(password_hash=slow))
        await db.commit()
    await engine.dispose()
    form = await server.request("GET", "/login")
    login = asyncio.ensure_future(
        server.request(
            "POST", "/login", data={"email": host.email, "password": host.password, "csrf_token": csrf_from(form.text)},
            allow_redirects=False,
        )
    )
    answered = 0
    while not login.done():
        if (await server.request("GET", "/healthz")).status == 200 and not login.done():
            answered += 1
    assert (await login).status == 302
    # With argon2 on the event loop no request is answered while it runs; in a thread, many are.
    assert answered >= 5, f"only {answered} health checks were answered during the sign-in"


def test_the_client_behind_a_trusted_proxy_is_the_right_most_untrusted_forwarded_address() -> None:
    proxies = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    # A trusted proxy's header names the client; what the client itself put on the left is ignored.
    assert forwarded_client("10.0.0.5", "1.2.3.4, 203.0.113.9", proxies) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", "203.0.113.9, 10.0.0.7", proxies) == "203.0.113.9"
    # Anyone else's header is not believed.
    assert forwarded_client("198.51.100.1", "203.0.113.9", proxies) == "198.51.100.1"
    assert forwarded_client("10.0.0.5", None, proxies) == "10.0.0.5"
    assert forwarded_client("10.0.0.5", "not-an-ip", proxies) == "not-an-ip"
    with pytest.raises(ValueError, match="'nope' is not an IP address"):
        parse_networks(["10.0.0.0/8", "nope"])


async def test_behind_a_trusted_proxy_each_client_address_has_its_own_count(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    async def statuses(server: LiveServer, client: str, n: int) -> list[int]:
        out = []
        for i in range(n):
            form = await server.request("GET", "/login")
            response = await server.request(
                "POST", "/login", allow_redirects=False, headers={"X-Forwarded-For": client},
                data={"email": f"user{client}-{i}@example.com", "password": "guess", "csrf_token": csrf_from(form.text)},
            )
            out.append(response.status)
        return out

    limits = {"login_free_failures": 50, "login_address_free_failures": 2, "login_lockout_base": 120.0}
    behind_proxy = await make_server(sqlite_url, trusted_proxies=parse_networks(["127.0.0.1"]), **limits)
    assert await statuses(behind_proxy, "203.0.113.1", 3) == [401, 401, 429]
    assert await statuses(behind_proxy, "203.0.113.2", 1) == [401], "another client behind the same proxy"

    untrusted = await make_server(sqlite_url, **limits)
    assert await statuses(untrusted, "203.0.113.3", 2) == [401, 401]
    assert await statuses(untrusted, "203.0.113.4", 1) == [429], "a forged header changes nothing"
