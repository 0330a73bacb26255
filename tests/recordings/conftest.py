"""Recordings' tests run sessions of a few seconds: their servers score them all the same (the engagement
tests' relaxed rules), and deliver webhooks to loopback receivers (a development setting)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, ServerFactory, settings_for, start_server
from tests.engagement.conftest import SHORT_SESSIONS_COUNT
from tests.mail.support import smtp_sink

__all__ = ["smtp_sink"]


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    servers: list[LiveServer] = []

    async def make(database_url: str, **overrides: Any) -> LiveServer:
        overrides.setdefault("engagement", SHORT_SESSIONS_COUNT)
        overrides.setdefault("webhook_allow_private", True)
        server = await start_server(settings_for(database_url, tmp_path, **overrides))
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()
