"""The outbox loop: sends due deliveries with Standard Webhooks headers, retrying with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from sqlalchemy import select, update

from live.background import running
from live.db.tables import Webhook, WebhookDelivery
from live.typedefs import DB, SETTINGS
from live.webhooks.model import MAX_ATTEMPTS, backoff, sign
from live.webhooks.targets import InternalTarget, check_delivery_host, delivery_session

log = logging.getLogger(__name__)

BATCH = 50
TIMEOUT = aiohttp.ClientTimeout(total=10)
# A claimed delivery is invisible to other processes for this long; a crash mid-send retries after it.
CLAIM = 30.0


async def deliver_due(app: web.Application, http: aiohttp.ClientSession) -> int:
    """Claims due rows (so two processes never send one twice), sends them, records the outcome."""
    now = datetime.now(UTC)
    async with app[DB]() as db:
        rows = (
            await db.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(BATCH)
            )
        ).tuples().all()
        claimed = []
        for delivery, hook in rows:
            until = datetime.fromtimestamp(now.timestamp() + CLAIM, UTC)
            result = await db.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id, WebhookDelivery.next_attempt_at == delivery.next_attempt_at)
                .values(next_attempt_at=until)
            )
            # An UPDATE's result is a CursorResult, which has rowcount; SQLAlchemy types `execute` as Result.
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append((delivery.id, delivery.type, delivery.body, delivery.attempts, hook.url, hook.secret))
        await db.commit()
    if claimed:
        # Each row's outcome is recorded by its own _send: one failing never stops the others being recorded.
        await asyncio.gather(*(_send(app, http, *c) for c in claimed), return_exceptions=True)
    return len(claimed)


async def _send(
    app: web.Application, http: aiohttp.ClientSession, msg_id: str, _type: str, body: str, attempts: int, url: str,
    secret: str,
) -> None:
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "user-agent": "live-webhooks/1",
    }
    status: int | None = None
    error: str | None = None
    try:
        check_delivery_host(url, app[SETTINGS].webhook_allow_private)
        # A redirect is an answer, not a new target: a public URL must not bounce us onto an internal one.
        async with http.post(url, data=body.encode(), headers=headers, timeout=TIMEOUT, allow_redirects=False) as response:
            status = response.status
            if not 200 <= status < 300:
                error = f"HTTP {status}"
    except aiohttp.ClientConnectorError as exc:
        # The refusal of an internal address is raised inside aiohttp's resolver; say it, not "[None]".
        cause = exc.os_error if isinstance(exc.os_error, InternalTarget) else exc
        error = f"{type(cause).__name__}: {cause}"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        # Anything else still counts as an attempt, so one odd row backs off and ends as failed instead of
        # being claimed again every CLAIM seconds for ever.
        log.exception("webhook %s to %s: unexpected error", msg_id, url)
        error = f"{type(exc).__name__}: {exc}"
    attempts += 1
    values: dict[str, object] = {"attempts": attempts, "last_status": status, "last_error": error}
    now = datetime.now(UTC)
    if error is None:
        values.update(status="delivered", delivered_at=now)
    elif attempts >= MAX_ATTEMPTS:
        values.update(status="failed")
        log.warning("webhook %s to %s failed for good after %d attempts: %s", msg_id, url, attempts, error)
    else:
        values.update(next_attempt_at=now + backoff(attempts))
    async with app[DB]() as db:
        await db.execute(update(WebhookDelivery).where(WebhookDelivery.id == msg_id).values(**values))
        await db.commit()


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs the delivery loop for the app's lifetime; rows left pending resume after a restart."""
    wake = asyncio.Event()
    app[OUTBOX_WAKE] = wake
    interval = app[SETTINGS].outbox_interval

    async def loop() -> None:
        async with delivery_session(app[SETTINGS].webhook_allow_private) as http:
            while True:
                try:
                    sent = await deliver_due(app, http)
                except Exception:
                    log.exception("webhook outbox sweep failed")
                    sent = 0
                if sent:
                    continue
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), interval)
                except TimeoutError:
                    pass

    async with running(loop(), name="webhook-outbox"):
        yield


OUTBOX_WAKE = web.AppKey("outbox_wake", asyncio.Event)


def poke(app: web.Application) -> None:
    """Wakes the loop at once after new rows were committed."""
    wake = app.get(OUTBOX_WAKE)
    if wake is not None:
        wake.set()
