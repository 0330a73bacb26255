"""Recordings' tests run sessions of a few seconds: their servers are the engagement tests' (short sessions
scored all the same, webhooks to loopback receivers allowed), and they read mail from a real SMTP sink.
`peers` holds the aiortc publishers a test makes (`support.publish`) and closes them after it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from tests.engagement.conftest import make_server
from tests.mail.support import smtp_sink

__all__ = ["make_server", "peers", "smtp_sink"]


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await pc.close()
