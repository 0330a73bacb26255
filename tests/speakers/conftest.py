"""Speakers' tests run sessions of a few seconds and read their scores: the servers score short sessions
(the engagement tests' rules), and count a second spoken as one chat message, so seconds of speaking
show in the score as clearly as minutes would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, ServerFactory, settings_for, start_server
from tests.engagement.conftest import SHORT_SESSIONS_COUNT
from tests.recordings.conftest import peers

__all__ = ["peers"]

# Each second spoken counts as a chat message (the default: each minute).
SPEAKING_COUNTS: dict[str, Any] = {**SHORT_SESSIONS_COUNT, "speaking_weight": 60}


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    servers: list[LiveServer] = []

    async def make(database_url: str, **overrides: Any) -> LiveServer:
        overrides.setdefault("engagement", SPEAKING_COUNTS)
        server = await start_server(settings_for(database_url, tmp_path, **overrides))
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()
