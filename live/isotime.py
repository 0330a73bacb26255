"""How the HTTP API and webhooks write a time: ISO 8601 with its zone (stored times are UTC: `+00:00`)."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
