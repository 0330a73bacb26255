"""Fixtures the media tests share: what a test opens is closed at its end, and the Janus tests' nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.media.janus_support import JanusNode, module_nodes
from tests.media.support import Sink
from tests.rooms.support import Client


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    """Every Socket.IO client a test connects, closed at its end."""
    made: list[Client] = []
    yield made
    for client in made:
        await client.close()


@pytest.fixture
async def sinks() -> AsyncIterator[list[Sink]]:
    """Every client peer connection a test makes, closed at its end."""
    made: list[Sink] = []
    yield made
    for sink in made:
        await sink.close()


@pytest.fixture(scope="module")
def janus_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[JanusNode]]:
    """An origin and an edge for the whole module (every test's server destroys its rooms when it stops)."""
    with module_nodes(tmp_path_factory.mktemp("janus")) as nodes:
        yield nodes
