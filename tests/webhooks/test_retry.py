"""A failed webhook delivery retried by an admin goes out again, with the same message id."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from sqlalchemy import update

from live.db.engine import create_engine, session_factory
from live.db.tables import WebhookDelivery
from tests.conftest import LiveServer, ServerFactory, StaffMember, free_port


@pytest.fixture
async def sqlite_server(make_server: ServerFactory, sqlite_url: str) -> LiveServer:
    """Deliveries go to a receiver on loopback, which only the development setting allows."""
    return await make_server(sqlite_url, webhook_allow_private=True)



class FlakyReceiver:
    """A real HTTP endpoint that answers 500 until told to accept, recording every message id it gets."""

    def __init__(self) -> None:
        self.accept = False
        self.ids: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            status = 204 if self.accept else 500
            await self.ids.put((request.headers["webhook-id"], status))
            return web.Response(status=status)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/hook"


async def mark_failed(database_url: str, delivery_id: str) -> None:
    """What twelve refused attempts over about an hour end in, without the hour."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            await db.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(status="failed"))
            await db.commit()
    finally:
        await engine.dispose()


async def test_an_admin_retries_a_failed_delivery_and_it_is_delivered(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    receiver = FlakyReceiver()
    await receiver.start()
    admin = sqlite_staff["admin"].token
    try:
        hook = (
            await sqlite_server.request(
                "POST", "/api/v1/webhooks", admin, json={"url": receiver.url, "events": ["account.tier_changed"]}
            )
        ).body
        account = (await sqlite_server.request("POST", "/api/v1/accounts", admin, json={"name": "A", "plan": "p", "mrr": 1})).body
        await sqlite_server.request("PATCH", f"/api/v1/accounts/{account['id']}", admin, json={"tier": "high", "reason": "r"})
        message_id, status = await asyncio.wait_for(receiver.ids.get(), 20)
        assert status == 500
        path = f"/api/v1/webhooks/{hook['id']}/deliveries"
        delivery = (await sqlite_server.request("GET", path, admin)).body[0]
        assert delivery["id"] == message_id and delivery["last_error"] == "HTTP 500"

        early = await sqlite_server.request("POST", f"{path}/{message_id}/retry", admin)
        assert early.status == 409 and early.body["error"]["code"] == "not_failed"

        await mark_failed(sqlite_server.settings.database_url, message_id)
        receiver.accept = True
        retried = await sqlite_server.request("POST", f"{path}/{message_id}/retry", admin)
        assert retried.status == 200 and retried.body["status"] == "pending"
        while (await asyncio.wait_for(receiver.ids.get(), 20)) != (message_id, 204):
            pass  # a scheduled retry may have raced the manual one; the accepted one is what counts
        for _ in range(50):
            delivery = (await sqlite_server.request("GET", path, admin)).body[0]
            if delivery["status"] == "delivered":
                break
            await asyncio.sleep(0.1)
        assert delivery["status"] == "delivered" and delivery["last_error"] is None and delivery["attempts"] >= 2
    finally:
        if receiver.runner is not None:
            await receiver.runner.cleanup()


async def test_retry_is_for_admins_and_names_an_unknown_delivery(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    admin = sqlite_staff["admin"].token
    hook = (
        await sqlite_server.request(
            "POST", "/api/v1/webhooks", admin, json={"url": "https://example.com/h", "events": ["session.ended"]}
        )
    ).body
    path = f"/api/v1/webhooks/{hook['id']}/deliveries/msg_nope/retry"
    assert (await sqlite_server.request("POST", path, sqlite_staff["csm"].token)).status == 403
    missing = await sqlite_server.request("POST", path, admin)
    assert missing.status == 404 and "msg_nope" in missing.body["error"]["message"]
