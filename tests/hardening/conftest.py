"""Hardening fixtures: the room fixtures (a webinar on SQLite with its staff and two guests)."""

from __future__ import annotations

from tests.rooms.conftest import join, room

__all__ = ["join", "room"]
