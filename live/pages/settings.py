"""The engagement settings page: every weight and threshold in force, a what-if preview, and (admin) apply."""

from __future__ import annotations

from dataclasses import fields

from aiohttp import web

from live.auth.model import Action
from live.engagement.config import EngagementConfig
from live.engagement.whatif import latest_config
from live.pages.base import render, routes, staff_or_login
from live.typedefs import DB, ENGAGEMENT


@routes.get("/settings/engagement")
async def engagement_settings(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.OVERRIDE_ACCOUNTS)
    async with request.app[DB]() as db:
        config = await latest_config(db, request.app[ENGAGEMENT])
    values = config.values()
    # One input per number; the kind weights (a mapping) get one input per kind.
    inputs = []
    for f in fields(EngagementConfig):
        value = values[f.name]
        if isinstance(value, dict):
            inputs += [(f"{f.name}.{kind}", weight) for kind, weight in sorted(value.items())]
        else:
            inputs.append((f.name, value))
    return render(request, "settings_engagement.html", staff, config=config, inputs=inputs)
