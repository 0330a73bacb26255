"""Poll fixtures: the room fixtures, every received poll event checked against its schema, and a recorder of all events."""

from __future__ import annotations

from typing import Any

from tests.rooms.conftest import join, room
from tests.rooms.support import Client


def record_everything(client: Client) -> list[tuple[str, Any]]:
    """Every event the client receives from now on, in order, besides its queues (and its `room.state`)."""
    seen: list[tuple[str, Any]] = [("room.state", client.state)]
    client.listeners.append(lambda event, payload: seen.append((event, payload)))
    return seen


__all__ = ["join", "record_everything", "room"]
