"""Webhooks never reach internal addresses unless a development setting allows it: refused at creation, at
each delivery (names resolved again, IP literals checked), and never by following a redirect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from live.db.engine import create_engine, session_factory
from live.webhooks import store
from live.webhooks.model import is_internal
from tests.conftest import LiveServer, ServerFactory, add_staff, free_port

INTERNAL = [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "100.64.0.1", "224.0.0.1", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_recognised(address: str) -> None:
    assert is_internal(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_not_internal(address: str) -> None:
    assert not is_internal(address)


REFUSED_URLS = [
    "http://127.0.0.1/hook", "http://127.0.0.1:8080/hook", "https://10.0.0.7/hook", "http://192.168.0.10/x",
    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:9/x", "http://[::1]/hook", "http://[::]/x",
    "http://[fd00::5]/x", "http://[fe80::1]/x", "http://[::ffff:127.0.0.1]/hook", "http://[::ffff:a00:1]/x",
    # Names and odd spellings that resolve inward.
    "http://localhost/hook", "http://localhost.:8080/hook", "http://api.localhost/hook", "http://2130706433/hook", "http://0x7f.1/hook",
    "http://127.1/hook", "http://user:pw@127.0.0.1/hook",
]


async def test_webhook_urls_on_internal_addresses_are_refused(make_server: ServerFactory, sqlite_url: str) -> None:
    server = await make_server(sqlite_url)
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    for url in REFUSED_URLS:
        refused = await server.request("POST", "/api/v1/webhooks", admin.token, json={"url": url, "events": ["session.ended"]})
        assert refused.status == 400, url
        assert refused.body["error"]["code"] == "internal_url", url
        assert "LIVE_WEBHOOK_ALLOW_PRIVATE" in refused.body["error"]["message"]
    listed = await server.request("GET", "/api/v1/webhooks", admin.token)
    assert listed.body == []


async def test_the_development_setting_allows_internal_urls(make_server: ServerFactory, sqlite_url: str) -> None:
    server = await make_server(sqlite_url, webhook_allow_private=True)
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    created = await server.request(
        "POST", "/api/v1/webhooks", admin.token, json={"url": "http://localhost:9/hook", "events": ["session.ended"]}
    )
    assert created.status == 201


class Hits:
    """A real HTTP server on loopback counting the requests each path gets; /hook may answer a redirect."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.paths: list[str] = []
        self.redirect_to = redirect_to
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def start(self) -> Hits:
        async def any_path(request: web.Request) -> web.StreamResponse:
            self.paths.append(request.path)
            if request.path == "/hook" and self.redirect_to:
                raise web.HTTPTemporaryRedirect(self.redirect_to)
            return web.Response(status=204)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_path)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def _deliveries_settled(server: LiveServer, token: str, hook_id: str) -> list[dict[str, Any]]:
    for _ in range(200):
        rows = (await server.request("GET", f"/api/v1/webhooks/{hook_id}/deliveries", token)).body
        if rows and all(r["attempts"] >= 1 for r in rows):
            return list(rows)
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery was never attempted")


async def _tier_change(server: LiveServer, token: str) -> None:
    account = (await server.request("POST", "/api/v1/accounts", token, json={"name": "Acme", "plan": "p", "mrr": 10})).body
    changed = await server.request("PATCH", f"/api/v1/accounts/{account['id']}", token, json={"tier": "high", "reason": "R"})
    assert changed.status == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_delivery_to_an_address_that_turned_internal_is_refused_without_connecting(
    make_server: ServerFactory, sqlite_url: str, host: str
) -> None:
    # As if the name had resolved to a public address when the webhook was created, and to loopback now.
    hits = await Hits().start()
    try:
        server = await make_server(sqlite_url)
        admin = await add_staff(sqlite_url, "admin@example.com", "admin")
        engine = create_engine(sqlite_url)
        async with session_factory(engine)() as db:
            hook = await store.create_webhook(db, f"http://{host}:{hits.port}/hook", ["account.tier_changed"])
            await db.commit()
        await engine.dispose()
        await _tier_change(server, admin.token)
        rows = await _deliveries_settled(server, admin.token, hook.id)
        assert rows[0]["status"] != "delivered" and "internal address" in rows[0]["last_error"]
        assert hits.paths == []
    finally:
        await hits.stop()


async def test_a_redirect_is_not_followed(make_server: ServerFactory, sqlite_url: str) -> None:
    hits = await Hits(redirect_to="/inside").start()
    try:
        server = await make_server(sqlite_url, webhook_allow_private=True)
        admin = await add_staff(sqlite_url, "admin@example.com", "admin")
        hook = (
            await server.request(
                "POST", "/api/v1/webhooks", admin.token,
                json={"url": f"http://127.0.0.1:{hits.port}/hook", "events": ["account.tier_changed"]},
            )
        ).body
        await _tier_change(server, admin.token)
        rows = await _deliveries_settled(server, admin.token, hook["id"])
        assert rows[0]["status"] != "delivered" and rows[0]["last_status"] == 307
        assert hits.paths == ["/hook"]
    finally:
        await hits.stop()
