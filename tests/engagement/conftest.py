"""The loop's integration tests run sessions of a few seconds, scheduled a minute ahead, and expect them
to count: their servers run with the "one odd session" rules relaxed, unless a test asks otherwise.
Tests of those rules themselves (test_trust.py) start servers with the defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, ServerFactory, settings_for, start_server

# Every session counts, however short, and one session is evidence enough.
SHORT_SESSIONS_COUNT: dict[str, Any] = {
    "min_scored_minutes": 0,
    "min_scored_share": 0,
    "min_evidence_sessions": 1,
    "inactivity_min_invitations": 0,
}


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    servers: list[LiveServer] = []

    async def make(database_url: str, **overrides: Any) -> LiveServer:
        overrides.setdefault("engagement", SHORT_SESSIONS_COUNT)
        # The loop's tests deliver webhooks to loopback receivers, which only a development setting allows.
        overrides.setdefault("webhook_allow_private", True)
        server = await start_server(settings_for(database_url, tmp_path, **overrides))
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()
