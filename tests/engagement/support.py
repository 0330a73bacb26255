"""Helpers for the loop's integration tests: the API driven as a user would, real Socket.IO clients in the room,
and a real HTTP webhook receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from live.webhooks.model import verify
from tests.conftest import LiveServer, free_port
from tests.rooms.support import Client, connect


async def api(server: LiveServer, method: str, path: str, token: str, body: Any = None, status: int = 200) -> Any:
    response = await server.request(method, path, token, json=body)
    assert response.status == status, (method, path, response.status, response.body)
    return response.body


async def new_account(
    server: LiveServer, token: str, name: str, mrr: float = 500.0, contacts: int = 1, csm_email: str | None = None
) -> dict[str, Any]:
    """An account with `contacts` contacts (`<name> person <n>`); the contacts are in `account["contacts"]`."""
    body: dict[str, Any] = {"name": name, "plan": "starter", "mrr": mrr}
    if csm_email:
        body["csm_email"] = csm_email
    account = await api(server, "POST", "/api/v1/accounts", token, body, status=201)
    account["contacts"] = [
        await api(
            server,
            "POST",
            f"/api/v1/accounts/{account['id']}/contacts",
            token,
            {"name": f"{name} person {n}", "email": f"p{n}@{name.lower().replace(' ', '-')}.test"},
            status=201,
        )
        for n in range(1, contacts + 1)
    ]
    return account


async def schedule(
    server: LiveServer,
    token: str,
    host_email: str,
    kind: str = "webinar",
    title: str = "Roadmap webinar",
    account_ids: list[str] | None = None,
    starts_in: timedelta = timedelta(minutes=1),
    duration_minutes: int = 30,
) -> dict[str, Any]:
    body = {
        "kind": kind,
        "title": title,
        "starts_at": (datetime.now(UTC) + starts_in).isoformat(),
        "duration_minutes": duration_minutes,
        "host_email": host_email,
        "account_ids": account_ids or [],
    }
    session = await api(server, "POST", "/api/v1/sessions", token, body, status=201)
    # Automations may have invited more people (onboarding accounts to a welcome seminar): read them back.
    session["invitations"] = await api(server, "GET", f"/api/v1/sessions/{session['id']}/invitations", token)
    return session


def token_of(session: dict[str, Any], contact_id: str) -> str:
    return next(i["token"] for i in session["invitations"] if i["contact_id"] == contact_id)


async def join(server: LiveServer, token: str, session_id: str) -> Client:
    return await connect(server.url, token, session_id)


async def ok(client: Client, event: str, payload: Any = None) -> dict[str, Any]:
    ack = await client.call(event, {} if payload is None else payload)
    assert ack["ok"], (event, ack)
    return dict(ack)


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0, interval: float = 0.05) -> Any:
    """Polls `check` until it returns something truthy (an async pipeline ran), or fails the test."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {result!r})")
        await asyncio.sleep(interval)


class Receiver:
    """A real HTTP webhook endpoint on a free port; answers with the queued statuses, then 204."""

    def __init__(self, statuses: list[int] | None = None, port: int | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], str]] = []
        self.runner: web.AppRunner | None = None
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        async def hook(request: web.Request) -> web.Response:
            self.requests.append((dict(request.headers), await request.text()))
            return web.Response(status=self.statuses.pop(0) if self.statuses else 204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every body received whose Standard Webhooks signature checks out (and only those)."""
        out = []
        for headers, body in self.requests:
            lower = {k.lower(): v for k, v in headers.items()}
            if verify(secret, lower["webhook-id"], int(lower["webhook-timestamp"]), body, lower["webhook-signature"]):
                out.append(json.loads(body))
        return out

    def of_type(self, secret: str, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.verified(secret) if m["type"] == kind]


async def subscribe(server: LiveServer, admin_token: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    events = events or ["account.tier_changed", "account.phase_changed", "account.at_risk", "session.ended"]
    return await api(server, "POST", "/api/v1/webhooks", admin_token, {"url": url, "events": events}, status=201)
