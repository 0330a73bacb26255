"""Room fixtures: a webinar on the SQLite server with its host, a co-host and two invited guests, and client cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import LiveServer, StaffMember
from tests.rooms.support import Client, Room, connect, make_room

Connector = Callable[..., Awaitable[Client]]


@pytest.fixture
async def room(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> Room:
    return await make_room(
        sqlite_server.settings.database_url, sqlite_server.settings.secret_key, sqlite_staff["host"].id
    )


@pytest.fixture
async def join(sqlite_server: LiveServer) -> AsyncIterator[Connector]:
    """`await join(token, session_id)`: a connected client, disconnected at the end of the test."""
    clients: list[Client] = []

    async def make(token: str | None, session_id: str, url: str | None = None, **kwargs: Any) -> Client:
        client = await connect(url or sqlite_server.url, token, session_id, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
