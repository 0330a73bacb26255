"""HTTP handlers for webhook subscriptions and their delivery attempts (admin only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from pydantic import Field, field_validator

from live.api.parse import Body, json_body
from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.db.tables import Webhook, WebhookDelivery
from live.errors import NotFound
from live.isotime import iso
from live.typedefs import DB, SETTINGS
from live.webhooks import store
from live.webhooks.delivery import poke
from live.webhooks.model import WebhookEvent
from live.webhooks.targets import check_url

api = ApiRoutes("webhooks")


class WebhookIn(Body):
    url: str = Field(min_length=8, max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=10)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value


class WebhookOut(Out):
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: str | None


class WebhookCreatedOut(WebhookOut):
    secret: str


class DeliveryOut(Out):
    id: str
    type: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str | None
    delivered_at: str | None


def webhook_json(hook: Webhook) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "events": hook.events, "active": hook.active, "created_at": iso(hook.created_at)}


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "status": row.status,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "next_attempt_at": iso(row.next_attempt_at),
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
    }


@api.post("/api/v1/webhooks", body=WebhookIn, response=WebhookCreatedOut, status=201, summary="Subscribe a URL to events (admin)")
async def create(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_WEBHOOKS)
    body = await json_body(request, WebhookIn)
    await check_url(body.url, request.app[SETTINGS].webhook_allow_private)
    async with request.app[DB]() as db:
        hook = await store.create_webhook(db, body.url, list(dict.fromkeys(e.value for e in body.events)))
        await db.commit()
        return web.json_response({**webhook_json(hook), "secret": hook.secret}, status=201)


@api.get("/api/v1/webhooks", response=list[WebhookOut], summary="Webhook subscriptions (admin)")
async def list_all(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_WEBHOOKS)
    async with request.app[DB]() as db:
        return web.json_response([webhook_json(h) for h in await store.list_webhooks(db)])


@api.get("/api/v1/webhooks/{id}/deliveries", response=list[DeliveryOut], summary="The last deliveries of a webhook (admin)")
async def list_deliveries(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_WEBHOOKS)
    async with request.app[DB]() as db:
        hook = await db.get(Webhook, request.match_info["id"])
        if hook is None:
            raise NotFound(f"Webhook {request.match_info['id']!r} does not exist.")
        return web.json_response([delivery_json(d) for d in await store.deliveries(db, hook.id)])


@api.post("/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", response=Out, errors=(409,), summary="Send a failed delivery again (admin)")
async def retry(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_WEBHOOKS)
    async with request.app[DB]() as db:
        delivery = await store.retry_delivery(
            db, request.match_info["id"], request.match_info["delivery_id"], datetime.now(UTC)
        )
        await db.commit()
        payload = delivery_json(delivery)
    poke(request.app)
    return web.json_response(payload)
