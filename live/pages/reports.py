"""Small read models and formatting for the staff pages: poll results, chart points, durations, numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.polls import store as poll_store


@dataclass(frozen=True)
class PollResult:
    id: str
    question: str
    status: str
    anonymous: bool
    options: tuple[tuple[str, int, float], ...]  # (text, count, share of votes 0..1)
    voters: int


async def polls(db: AsyncSession, session_id: str) -> list[PollResult]:
    """Every poll of the session with its counts, from the polls store (as `GET .../polls` reads it)."""
    result = []
    for stored in await poll_store.polls_of_session(db, session_id):
        poll = stored.poll
        options = [str(o) for o in poll.options or []]
        counts = list(stored.counts) + [0] * (len(options) - len(stored.counts))
        total = sum(counts) or 1
        result.append(
            PollResult(
                id=poll.id,
                question=poll.question,
                status=poll.status,
                anonymous=poll.anonymous,
                options=tuple((text, n, n / total) for text, n in zip(options, counts, strict=False)),
                voters=len(stored.votes),
            )
        )
    return result


def series_points(series: list[dict[str, Any]]) -> list[tuple[datetime, float]]:
    """The account API's `engagement_series` as (time, value) points, skipping times with no value yet."""
    return [
        (datetime.fromisoformat(point["date"]), float(point["engagement"]))
        for point in series
        if point.get("engagement") is not None
    ]


def duration(value: float) -> str:
    seconds = round(value)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def describe_numbers(numbers: dict[str, Any]) -> str:
    """A history row's numbers as `name value` pairs a person can read."""
    parts = []
    for key, value in (numbers or {}).items():
        if isinstance(value, float):
            shown = f"{value:g}" if abs(value) < 10 else f"{value:,.1f}"
        else:
            shown = str(value)
        parts.append(f"{key.replace('_', ' ')} {shown}")
    return ", ".join(parts)
