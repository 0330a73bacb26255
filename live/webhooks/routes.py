"""HTTP handlers for webhook subscriptions and their delivery attempts (admin only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from pydantic import Field, field_validator

from live.api.parse import Body, json_body
from live.auth.identity import require_staff
from live.auth.model import Action
from live.db.tables import Webhook, WebhookDelivery
from live.errors import NotFound
from live.isotime import iso
from live.typedefs import DB
from live.webhooks import store
from live.webhooks.delivery import poke
from live.webhooks.model import WebhookEvent

routes = web.RouteTableDef()


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


@routes.post("/api/v1/webhooks")
async def create(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_WEBHOOKS)
    body = await json_body(request, WebhookIn)
    async with request.app[DB]() as db:
        hook = await store.create_webhook(db, body.url, list(dict.fromkeys(e.value for e in body.events)))
        await db.commit()
        return web.json_response({**webhook_json(hook), "secret": hook.secret}, status=201)


@routes.get("/api/v1/webhooks")
async def list_all(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_WEBHOOKS)
    async with request.app[DB]() as db:
        return web.json_response([webhook_json(h) for h in await store.list_webhooks(db)])


@routes.get("/api/v1/webhooks/{id}/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_WEBHOOKS)
    async with request.app[DB]() as db:
        hook = await db.get(Webhook, request.match_info["id"])
        if hook is None:
            raise NotFound(f"Webhook {request.match_info['id']!r} does not exist.")
        return web.json_response([delivery_json(d) for d in await store.deliveries(db, hook.id)])


@routes.post("/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry")
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
