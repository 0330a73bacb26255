"""Recordings and replay views in the database, and the chapters read back from the event log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.tables import Contact, Event, Invitation, Poll, Recording, ReplayView, SessionScore
from live.engagement.model import ScoredSession
from live.errors import NotFound
from live.events.model import EventType
from live.recordings.model import (
    ON_DEMAND,
    Chapter,
    RecordingStatus,
    Viewing,
    advance,
    on_demand_score,
    watched_replay,
)

MEDIA_TYPE = "video/webm"


async def create(db: AsyncSession, session_id: str, started_by: str, at: datetime) -> Recording:
    recording = Recording(
        session_id=session_id, started_by=started_by, started_at=at, status=RecordingStatus.RECORDING, heartbeat_at=at
    )
    db.add(recording)
    await db.flush()
    return recording


async def get(db: AsyncSession, recording_id: str) -> Recording:
    recording = await db.get(Recording, recording_id)
    if recording is None or recording.status == RecordingStatus.DELETED:
        raise NotFound(f"Recording {recording_id!r} does not exist.")
    return recording


async def of_session(db: AsyncSession, session_id: str) -> Sequence[Recording]:
    """The session's recordings still kept (recording or ready), oldest first."""
    query = (
        select(Recording)
        .where(Recording.session_id == session_id, Recording.status != RecordingStatus.DELETED)
        .order_by(Recording.started_at, Recording.id)
    )
    return (await db.execute(query)).scalars().all()


async def latest_ready(db: AsyncSession, session_id: str) -> Recording | None:
    """The recording a replay page plays: the session's longest finished one with media."""
    ready = [r for r in await of_session(db, session_id) if r.status == RecordingStatus.READY and r.path]
    return max(ready, key=lambda r: (r.duration_seconds, r.started_at), default=None)


async def ready_older_than(db: AsyncSession, before: datetime) -> Sequence[Recording]:
    query = select(Recording).where(Recording.status == RecordingStatus.READY, Recording.ended_at < before)
    return (await db.execute(query)).scalars().all()


async def chapters(db: AsyncSession, session_id: str, start: datetime, end: datetime) -> list[Chapter]:
    """Polls opened and questions asked between `start` and `end`, from the event log."""
    query = (
        select(Event)
        .where(
            Event.session_id == session_id,
            Event.type.in_([EventType.POLL_OPENED.value, EventType.QA_ASKED.value]),
        )
        .order_by(Event.id)
    )
    events = [e for e in (await db.execute(query)).scalars() if start <= e.at <= end]
    poll_ids = [str(e.data.get("poll_id")) for e in events if e.type == EventType.POLL_OPENED.value]
    questions: dict[str, str] = {}
    if poll_ids:
        rows = await db.execute(select(Poll.id, Poll.question).where(Poll.id.in_(poll_ids)))
        questions = {poll_id: question for poll_id, question in rows.tuples()}
    out: list[Chapter] = []
    for event in events:
        if event.type == EventType.POLL_OPENED.value:
            out.append(Chapter(event.at, "Poll: " + questions.get(str(event.data.get("poll_id")), "a poll")))
        else:
            out.append(Chapter(event.at, "Question: " + str(event.data.get("text", ""))))
    return out


async def view_of(db: AsyncSession, recording: Recording, contact_id: str) -> ReplayView | None:
    query = select(ReplayView).where(ReplayView.recording_id == recording.id, ReplayView.contact_id == contact_id)
    return (await db.execute(query)).scalar_one_or_none()


async def record_progress(
    db: AsyncSession, recording: Recording, contact_id: str, position: float, playing: bool, at: datetime
) -> ReplayView:
    """One progress report of a viewer, folded into what they have watched (see `model.advance`)."""
    view = await view_of(db, recording, contact_id)
    if view is None:
        view = ReplayView(recording_id=recording.id, session_id=recording.session_id, contact_id=contact_id, first_at=at)
        db.add(view)
    before = Viewing(
        tuple((float(a), float(b)) for a, b in view.watched or []), view.position, bool(view.playing), view.reported_at
    )
    after = advance(before, position, playing, at, recording.duration_seconds)
    view.watched = [list(interval) for interval in after.watched]
    view.seconds = after.seconds
    view.position = after.position
    view.playing = after.playing
    view.reported_at = at
    await db.flush()
    return view


async def replay_figures(db: AsyncSession, session_id: str) -> dict[str, dict[str, Any]]:
    """contact_id -> `{replay_seconds, watched_replay}` over the session's recordings (deleted ones too:
    what someone watched stays watched)."""
    query = select(ReplayView, Recording.duration_seconds).join(Recording, ReplayView.recording_id == Recording.id)
    rows = await db.execute(query.where(ReplayView.session_id == session_id))
    out: dict[str, dict[str, Any]] = {}
    for view, duration in rows.tuples():
        figures = out.setdefault(view.contact_id, {"replay_seconds": 0.0, "watched_replay": False})
        figures["replay_seconds"] = round(figures["replay_seconds"] + view.seconds, 1)
        figures["watched_replay"] = figures["watched_replay"] or watched_replay(view.seconds, duration)
    return out


async def invitation_token(db: AsyncSession, session_id: str, contact_id: str) -> str | None:
    query = select(Invitation.token).where(Invitation.session_id == session_id, Invitation.contact_id == contact_id)
    return (await db.execute(query)).scalar_one_or_none()


async def on_demand_scores(db: AsyncSession, account_ids: Sequence[str]) -> dict[str, list[ScoredSession]]:
    """account_id -> its contacts' replay scores (kind `on_demand`), dated when they last watched.

    Only for contacts who did not attend the session live: a replay is how people who could not come
    take part, and someone who came and re-watches is already scored for being there.
    """
    if not account_ids:
        return {}
    query = (
        select(ReplayView, Recording.duration_seconds, Contact.account_id)
        .join(Recording, ReplayView.recording_id == Recording.id)
        .join(Contact, ReplayView.contact_id == Contact.id)
        .where(Contact.account_id.in_(list(account_ids)), ReplayView.seconds > 0)
    )
    attended = select(SessionScore.session_id, SessionScore.contact_id).where(
        SessionScore.account_id.in_(list(account_ids)), SessionScore.attended.is_(True)
    )
    came = set((await db.execute(attended)).tuples())
    out: dict[str, list[ScoredSession]] = {}
    for view, duration, account_id in (await db.execute(query)).tuples():
        if (view.session_id, view.contact_id) in came:
            continue
        out.setdefault(account_id, []).append(
            ScoredSession(
                session_id=view.session_id,
                contact_id=view.contact_id,
                kind=ON_DEMAND,
                ended_at=view.reported_at or view.first_at,
                score=on_demand_score(view.seconds, duration),
                attended=False,
            )
        )
    return out


async def being_made(db: AsyncSession) -> Sequence[Recording]:
    """Every recording whose row says it is still being made (by whichever process)."""
    return (await db.execute(select(Recording).where(Recording.status == RecordingStatus.RECORDING))).scalars().all()


async def beat(db: AsyncSession, recording_ids: Sequence[str], at: datetime) -> None:
    """The recordings this process is making are still being made at `at`."""
    if recording_ids:
        await db.execute(
            update(Recording)
            .where(Recording.id.in_(recording_ids), Recording.status == RecordingStatus.RECORDING)
            .values(heartbeat_at=at)
        )


async def claim(db: AsyncSession, recording: Recording, at: datetime) -> bool:
    """Takes an orphaned recording over (its heartbeat moved to `at`), unless another process did since it
    was read: True when this one has it."""
    seen = recording.heartbeat_at
    query = update(Recording).where(Recording.id == recording.id, Recording.status == RecordingStatus.RECORDING)
    query = query.where(Recording.heartbeat_at.is_(None) if seen is None else Recording.heartbeat_at == seen)
    result = await db.execute(query.values(heartbeat_at=at).execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)
