"""The engagement tests' server delivers webhooks to loopback receivers, which only a development setting allows."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer, ServerFactory


@pytest.fixture
async def server(make_server: ServerFactory, database_url: str) -> LiveServer:
    return await make_server(database_url, webhook_allow_private=True)
