"""How live writes a time: the one home of its ISO 8601 formats (stored times are UTC).

Two spellings are public and fixed: the HTTP API and webhooks write the zone as `+00:00` (`iso`), the
Socket.IO payloads as `Z` (`iso_z`, what every browser's `Date` parses and what the room pages have
always received). Nothing else in the code formats a time for a client.
"""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    """The HTTP API's and webhooks' time (`2026-03-01T09:00:00+00:00`); None stays None (JSON null)."""
    return value.isoformat() if value is not None else None


def iso_z(value: datetime) -> str:
    """The `/live` protocol's time (`2026-03-01T09:00:00.123456Z`): UTC written with a `Z`."""
    return value.isoformat().replace("+00:00", "Z")
