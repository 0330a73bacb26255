"""What the staff pages show about sessions and accounts, read from the store: attendance, polls, engagement.

The attendance rows have the shape of `GET /api/v1/sessions/{id}/attendance`: derived from the event
log with `live.engagement.attendance`, scored from `session_scores` once the session has been scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from live.db.tables import Account, Contact, Invitation, LiveSession, SessionScore
from live.engagement.attendance import derive_attendance
from live.events.store import session_events
from live.polls import store as poll_store
from live.sessions import store as sessions


@dataclass(frozen=True)
class AttendanceRow:
    contact_id: str
    account_id: str
    name: str
    email: str
    account_name: str
    joined_at: datetime | None
    left_at: datetime | None
    present_seconds: float
    focused_seconds: float
    chat_messages: int
    questions: int
    poll_answers: int
    reactions: int
    hand_raises: int
    score: float | None
    no_show: bool


async def attendance(db: AsyncSession, engine: AsyncEngine, session: LiveSession) -> list[AttendanceRow]:
    """One row per invited or present contact (staff are not attendees), invited names first."""
    derived = {
        row.contact_id: row
        for row in derive_attendance(await session_events(engine, session.id), datetime.now(UTC))
        if row.contact_id
    }
    invited = {contact.id: contact for _, contact in await sessions.invitations_of(db, session.id)}
    missing = [cid for cid in derived if cid not in invited]
    if missing:
        rows = (await db.execute(select(Contact).where(Contact.id.in_(missing)))).scalars().all()
        invited.update({c.id: c for c in rows})
    account_ids = {c.account_id for c in invited.values()}
    names = dict(
        (await db.execute(select(Account.id, Account.name).where(Account.id.in_(account_ids)))).tuples().all()
    )
    scores = dict(
        (await db.execute(select(SessionScore.contact_id, SessionScore.score).where(SessionScore.session_id == session.id)))
        .tuples()
        .all()
    )
    result = []
    for contact in sorted(invited.values(), key=lambda c: c.name.lower()):
        row = derived.get(contact.id)
        present = row.present_seconds if row else 0.0
        result.append(
            AttendanceRow(
                contact_id=contact.id,
                account_id=contact.account_id,
                name=contact.name,
                email=contact.email,
                account_name=names.get(contact.account_id, ""),
                joined_at=row.joined_at if row else None,
                left_at=row.left_at if row else None,
                present_seconds=present,
                focused_seconds=row.focused_seconds if row else 0.0,
                chat_messages=row.chat_messages if row else 0,
                questions=row.questions if row else 0,
                poll_answers=row.poll_answers if row else 0,
                reactions=row.reactions if row else 0,
                hand_raises=row.hand_raises if row else 0,
                score=scores.get(contact.id),
                no_show=session.status == "ended" and present <= 0,
            )
        )
    return result


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


@dataclass(frozen=True)
class AccountSession:
    session_id: str
    title: str
    kind: str
    starts_at: datetime
    status: str
    contact_name: str
    outcome: str  # "attended", "missed", "joined briefly", "upcoming", "live"
    score: float | None


async def account_sessions(db: AsyncSession, account_id: str) -> list[AccountSession]:
    """Every invitation of the account's contacts, newest first, with what came of it."""
    rows = (
        await db.execute(
            select(Invitation, LiveSession, Contact)
            .join(LiveSession, LiveSession.id == Invitation.session_id)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(Contact.account_id == account_id)
            .order_by(LiveSession.starts_at.desc(), Contact.name)
        )
    ).tuples().all()
    scores = {
        (s.session_id, s.contact_id): s
        for s in (await db.execute(select(SessionScore).where(SessionScore.account_id == account_id))).scalars()
    }
    result = []
    for _invitation, session, contact in rows:
        scored = scores.get((session.id, contact.id))
        if session.status == "scheduled":
            outcome = "upcoming"
        elif session.status == "live":
            outcome = "live"
        elif scored is None:
            outcome = "not scored yet"
        elif scored.attended:
            outcome = "attended"
        elif scored.score > 0:
            outcome = "joined briefly"
        else:
            outcome = "missed"
        result.append(
            AccountSession(
                session_id=session.id,
                title=session.title,
                kind=session.kind,
                starts_at=session.starts_at,
                status=session.status,
                contact_name=contact.name,
                outcome=outcome,
                score=scored.score if scored else None,
            )
        )
    return result


async def engagement_series(db: AsyncSession, account_id: str) -> list[tuple[datetime, float]]:
    """The account's engagement over time: the mean score of its contacts per scored session."""
    rows = (
        await db.execute(
            select(SessionScore.session_id, SessionScore.ended_at, SessionScore.score)
            .where(SessionScore.account_id == account_id)
            .order_by(SessionScore.ended_at)
        )
    ).tuples().all()
    by_session: dict[str, tuple[datetime, list[float]]] = {}
    for session_id, ended_at, score in rows:
        by_session.setdefault(session_id, (ended_at, []))[1].append(score)
    return [(at, sum(values) / len(values)) for at, values in by_session.values()]


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
