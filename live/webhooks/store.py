"""Webhook subscriptions and the outbox rows that carry each message until it is delivered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.tables import Webhook, WebhookDelivery
from live.errors import Conflict, NotFound
from live.webhooks.model import new_message_id, new_secret


async def create_webhook(db: AsyncSession, url: str, events: list[str]) -> Webhook:
    hook = Webhook(url=url, events=events, secret=new_secret())
    db.add(hook)
    await db.flush()
    return hook


async def list_webhooks(db: AsyncSession) -> Sequence[Webhook]:
    return (await db.execute(select(Webhook).order_by(Webhook.created_at))).scalars().all()


async def enqueue(db: AsyncSession, event_type: str, data: dict[str, Any], at: datetime | None = None) -> int:
    """Adds one outbox row per subscribed webhook, in the caller's transaction; returns how many."""
    at = at or datetime.now(UTC)
    hooks = (await db.execute(select(Webhook).where(Webhook.active.is_(True)))).scalars().all()
    count = 0
    for hook in hooks:
        if event_type not in hook.events:
            continue
        body = json.dumps({"type": event_type, "timestamp": at.isoformat(), "data": data}, default=str)
        db.add(WebhookDelivery(id=new_message_id(), webhook_id=hook.id, type=event_type, body=body, next_attempt_at=at))
        count += 1
    await db.flush()
    return count


async def deliveries(db: AsyncSession, webhook_id: str, limit: int = 100) -> Sequence[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc())
        .limit(limit)
    )
    return (await db.execute(query)).scalars().all()


async def retry_delivery(db: AsyncSession, webhook_id: str, delivery_id: str, now: datetime) -> WebhookDelivery:
    """Puts a failed delivery back in the outbox, due now: one more attempt, with the same id and body
    (receivers that deduplicate on `webhook-id` see the same message)."""
    delivery = await db.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook_id:
        raise NotFound(f"Delivery {delivery_id!r} of webhook {webhook_id!r} does not exist.")
    if delivery.status != "failed":
        raise Conflict(
            f"Delivery {delivery_id!r} is {delivery.status}; only a failed delivery can be retried.", code="not_failed"
        )
    delivery.status = "pending"
    delivery.next_attempt_at = now
    await db.flush()
    return delivery
