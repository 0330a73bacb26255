"""Webhook subscriptions, and a manual tier change delivered, signed, to a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from live.webhooks.model import sign, verify
from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff, free_port


class Receiver:
    """A real HTTP endpoint on a free port that records what it is sent."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[dict[str, str], str]] = asyncio.Queue()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            await self.received.put((dict(request.headers), await request.text()))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def test_signatures_follow_standard_webhooks() -> None:
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, f"v1,bogus {signature}")
    assert not verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, signature)


async def test_only_admins_manage_webhooks_and_urls_are_checked(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    body = {"url": "https://example.com/hook", "events": ["account.tier_changed"]}
    assert (await server.request("POST", "/api/v1/webhooks", staff["csm"].token, json=body)).status == 403
    bad_url = await server.request("POST", "/api/v1/webhooks", staff["admin"].token, json={**body, "url": "ftp://x"})
    assert bad_url.status == 400 and "'url'" in bad_url.body["error"]["message"]
    bad_event = await server.request(
        "POST", "/api/v1/webhooks", staff["admin"].token, json={**body, "events": ["account.deleted"]}
    )
    assert bad_event.status == 400 and "account.deleted" in bad_event.body["error"]["message"]
    created = await server.request("POST", "/api/v1/webhooks", staff["admin"].token, json=body)
    assert created.status == 201 and created.body["secret"].startswith("whsec_") and created.body["id"]
    listed = await server.request("GET", "/api/v1/webhooks", staff["admin"].token)
    assert [h["url"] for h in listed.body] == ["https://example.com/hook"] and "secret" not in listed.body[0]


async def test_a_manual_tier_change_is_delivered_signed(make_server: ServerFactory, sqlite_url: str) -> None:
    # The receiver is on loopback, which only a development setting allows.
    sqlite_server = await make_server(sqlite_url, webhook_allow_private=True)
    sqlite_staff = {"admin": await add_staff(sqlite_url, "admin@example.com", "admin")}
    receiver = Receiver()
    await receiver.start()
    try:
        admin = sqlite_staff["admin"].token
        hook = (
            await sqlite_server.request(
                "POST", "/api/v1/webhooks", admin, json={"url": receiver.url, "events": ["account.tier_changed"]}
            )
        ).body
        account = (
            await sqlite_server.request("POST", "/api/v1/accounts", admin, json={"name": "Acme", "plan": "p", "mrr": 10})
        ).body
        await sqlite_server.request(
            "PATCH", f"/api/v1/accounts/{account['id']}", admin, json={"tier": "high", "reason": "Strategic"}
        )
        headers, body = await asyncio.wait_for(receiver.received.get(), 20)
        assert verify(
            hook["secret"], headers["webhook-id"], int(headers["webhook-timestamp"]), body, headers["webhook-signature"]
        )
        payload: dict[str, Any] = json.loads(body)
        assert payload["type"] == "account.tier_changed"
        assert payload["data"]["old"] == "tech" and payload["data"]["new"] == "high"
        assert payload["data"]["account"]["id"] == account["id"]
        deliveries = await sqlite_server.request("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", admin)
        for _ in range(50):
            if deliveries.body and deliveries.body[0]["status"] == "delivered":
                break
            await asyncio.sleep(0.1)
            deliveries = await sqlite_server.request("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", admin)
        assert deliveries.body[0]["status"] == "delivered" and deliveries.body[0]["attempts"] == 1
    finally:
        await receiver.stop()
