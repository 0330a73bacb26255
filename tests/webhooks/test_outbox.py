"""The webhook outbox records every attempt, even one that fails in a way nobody planned for."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from live.db.tables import Webhook, WebhookDelivery
from live.typedefs import DB
from live.webhooks import store
from live.webhooks.delivery import deliver_due
from tests.conftest import LiveServer


async def test_a_row_whose_url_cannot_even_be_parsed_counts_its_attempt_and_backs_off(sqlite_server: LiveServer) -> None:
    app = sqlite_server.app
    async with app[DB]() as db:
        # A row written before URLs were checked (or by hand): its URL makes the URL parser itself raise.
        db.add(Webhook(url="http://[::1", events=["session.ended"], secret="s" * 32))
        db.add(Webhook(url="ftp://example.test/", events=["session.ended"], secret="s" * 32))
        await store.enqueue(db, "session.ended", {"id": "x"})
        await db.commit()
    async with aiohttp.ClientSession() as http:
        assert await deliver_due(app, http) == 2
    async with app[DB]() as db:
        rows = (await db.execute(select(WebhookDelivery))).scalars().all()
    assert len(rows) == 2
    for row in rows:
        assert row.status == "pending" and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > datetime.now(UTC)  # backing off, not claimed again at once
