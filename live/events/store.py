"""Reading a session's event log back as `LogEvent`s, in the order it was written."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from live.db.tables import Event
from live.events.model import EventType, LogEvent


async def session_events(
    engine: AsyncEngine, session_id: str, types: tuple[EventType, ...] | None = None
) -> list[LogEvent]:
    query = select(Event).where(Event.session_id == session_id).order_by(Event.id)
    if types is not None:
        query = query.where(Event.type.in_([t.value for t in types]))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        LogEvent(
            session_id=row.session_id,
            type=EventType(row.type),
            at=row.at,
            participant_id=row.participant_id,
            data=dict(row.data or {}),
        )
        for row in rows
    ]
