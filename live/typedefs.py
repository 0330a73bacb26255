"""Typed application keys: everything the app holds is reached through one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from live.settings import Settings

if TYPE_CHECKING:
    from live.metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
SIO = web.AppKey("sio", Any)

from live.engagement.config import EngagementConfig  # noqa: E402

ENGAGEMENT = web.AppKey("engagement", EngagementConfig)
