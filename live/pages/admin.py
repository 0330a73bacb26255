"""The admin page: accounts, contacts CSV import, staff users, API tokens and webhooks with their deliveries."""

from __future__ import annotations

from aiohttp import web

from live.accounts import store as accounts
from live.auth import store as users
from live.auth.model import Action, Role
from live.pages.base import render, routes, staff_or_login
from live.typedefs import DB
from live.webhooks import store as webhooks
from live.webhooks.model import WebhookEvent

# Enough to see what is failing now; the full list is `GET /api/v1/webhooks/{id}/deliveries`.
RECENT_DELIVERIES = 20


@routes.get("/admin")
async def admin_page(request: web.Request) -> web.Response:
    # Admin only: everyone else gets the 403 page, not a half-working form.
    staff = await staff_or_login(request, Action.MANAGE_USERS)
    async with request.app[DB]() as db:
        all_accounts = list(await accounts.list_accounts(db))
        staff_users = list(await users.list_users(db))
        hooks = [(hook, list(await webhooks.deliveries(db, hook.id, RECENT_DELIVERIES))) for hook in await webhooks.list_webhooks(db)]
    return render(
        request,
        "admin.html",
        staff,
        accounts=all_accounts,
        users=staff_users,
        roles=[r.value for r in Role],
        csms=[u for u in staff_users if u.role in (Role.CSM, Role.ADMIN) and u.disabled_at is None],
        hooks=hooks,
        events=[e.value for e in WebhookEvent],
    )
