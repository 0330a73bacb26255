"""Runs the engagement loop against the database: announces account changes as webhooks."""

from __future__ import annotations

from aiohttp import web

from live.accounts.routes import account_json
from live.accounts.store import get_account
from live.typedefs import DB
from live.webhooks import delivery
from live.webhooks import store as webhooks
from live.webhooks.model import WebhookEvent

FIELD_EVENTS = {"tier": WebhookEvent.TIER_CHANGED, "phase": WebhookEvent.PHASE_CHANGED}


async def announce_changes(app: web.Application, account_id: str, changes: list[tuple[str, str, str]]) -> None:
    """One webhook per changed field: `{account, field, old, new}`."""
    relevant = [c for c in changes if c[0] in FIELD_EVENTS]
    if not relevant:
        return
    async with app[DB]() as db:
        account = account_json(await get_account(db, account_id))
        for field, old, new in relevant:
            await webhooks.enqueue(db, FIELD_EVENTS[field].value, {"account": account, "field": field, "old": old, "new": new})
        await db.commit()
    delivery.poke(app)
