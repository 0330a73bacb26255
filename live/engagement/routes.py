"""HTTP handlers of the engagement configuration: the version in force, the what-if preview, applying one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from live.api.parse import Body, json_body
from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.engagement import whatif
from live.engagement.config import EngagementConfig
from live.typedefs import DB, ENGAGEMENT

api = ApiRoutes("engagement")


class PreviewIn(Body):
    config: dict[str, Any]


class ConfigIn(Body):
    config: dict[str, Any]
    reason: str = Field(min_length=1, max_length=2000)


def config_json(config: EngagementConfig) -> dict[str, Any]:
    return {"version": config.version, "config": config.values()}


async def current(app: web.Application) -> EngagementConfig:
    async with app[DB]() as db:
        return await whatif.latest_config(db, app[ENGAGEMENT])


@api.get("/api/v1/engagement/config", response=Out, summary="The engagement configuration in force, with its version")
async def get_config(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_ACCOUNTS)
    return web.json_response(config_json(await current(request.app)))


@api.post("/api/v1/engagement/preview", body=PreviewIn, response=Out, summary="What-if: accounts whose tier, phase or health a configuration would change")
async def preview(request: web.Request) -> web.Response:
    await require_staff(request, Action.OVERRIDE_ACCOUNTS)
    body = await json_body(request, PreviewIn)
    config = (await current(request.app)).with_overrides(body.config)  # 400 naming a bad field
    async with request.app[DB]() as db:
        world = await whatif.load_world(db)
    # The replay is pure CPU: off the event loop, so rooms keep their realtime path meanwhile.
    result = await asyncio.to_thread(whatif.preview, world, config, datetime.now(UTC))
    return web.json_response({**result, "version": config.version})


@api.put("/api/v1/engagement/config", body=ConfigIn, response=Out, summary="Apply a new engagement configuration version (admin)")
async def put_config(request: web.Request) -> web.Response:
    staff = await require_staff(request, Action.MANAGE_SETTINGS)
    body = await json_body(request, ConfigIn)
    config = (await current(request.app)).with_overrides(body.config)
    async with request.app[DB]() as db:
        await whatif.save_config(db, config, body.reason, staff.email)
        await db.commit()
    # Every process reads the newest version from the database when it scores (see service.Loop.fresh).
    return web.json_response(config_json(config))
