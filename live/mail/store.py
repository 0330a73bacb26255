"""Mail outbox rows: queued once per key, claimed once across processes, their outcome recorded."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from live.db.tables import Contact, Mail, new_id
from live.mail.model import INVITATION_KINDS, MailKind, MailStatus


@dataclass(frozen=True)
class Draft:
    """A message ready to queue: `key` says what it is, so the same message is never queued twice."""

    key: str
    kind: MailKind
    to_email: str
    to_name: str
    subject: str
    message: str
    session_id: str | None = None
    contact_id: str | None = None
    not_after: datetime | None = None


async def queue(db: AsyncSession, drafts: Sequence[Draft], now: datetime | None = None) -> int:
    """Inserts the drafts whose key is new (in the caller's transaction); returns how many were new."""
    if not drafts:
        return 0
    now = now or datetime.now(UTC)
    rows = [
        {
            "id": new_id(), "key": d.key, "kind": d.kind.value, "session_id": d.session_id,
            "contact_id": d.contact_id, "to_email": d.to_email, "to_name": d.to_name, "subject": d.subject,
            "message": d.message, "status": MailStatus.QUEUED.value, "attempts": 0, "next_attempt_at": now,
            "created_at": now, "not_after": d.not_after,
        }
        for d in drafts
    ]
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    # One statement executed for many rows: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    # compiled once, where a `.values(rows)` statement per chunk coerced and compiled every value anew (it was
    # most of queueing a rendered mail). RETURNING counts the rows that were new on any database.
    statement = insert(MAILS).on_conflict_do_nothing(index_elements=["key"]).returning(MAILS.c.id)
    return len((await db.execute(statement, rows)).all())


MAILS = cast(Table, Mail.__table__)  # the Core table: no ORM bookkeeping per row


async def existing_keys(db: AsyncSession, keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update((await db.execute(select(Mail.key).where(Mail.key.in_(keys[start : start + 500])))).scalars())
    return found


@dataclass(frozen=True)
class Claimed:
    id: str
    kind: MailKind
    contact_id: str | None
    to_email: str
    message: str
    attempts: int
    suppressed: bool
    too_late: bool


async def claim_due(db: AsyncSession, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Takes up to `limit` due rows for this process until `now + lease`, and commits the claim.

    The UPDATE re-checks status and due time on each row, so of two processes that chose the same rows only
    the first to update a row gets it (Postgres re-reads a row another transaction just changed); SKIP
    LOCKED lets the second pass over rows the first is holding rather than wait for them.
    """
    token = uuid.uuid4().hex
    due = and_(Mail.status == MailStatus.QUEUED.value, Mail.next_attempt_at <= now)
    chosen = select(Mail.id).where(due).order_by(Mail.next_attempt_at, Mail.created_at).limit(limit)
    if db.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    await db.execute(
        update(Mail).where(Mail.id.in_(chosen.scalar_subquery()), due).values(next_attempt_at=now + lease, claim=token),
        execution_options={"synchronize_session": False},
    )
    await db.commit()
    rows = (
        await db.execute(
            select(Mail, Contact.unsubscribed_at)
            .outerjoin(Contact, Contact.id == Mail.contact_id)
            .where(Mail.claim == token, Mail.status == MailStatus.QUEUED.value)
        )
    ).tuples().all()
    return [
        Claimed(m.id, MailKind(m.kind), m.contact_id, m.to_email, m.message, m.attempts,
                suppressed=MailKind(m.kind).unsubscribable and unsubscribed is not None,
                too_late=m.not_after is not None and m.not_after <= now)
        for m, unsubscribed in rows
    ]


async def record(db: AsyncSession, ids: Sequence[str], **values: Any) -> None:
    for start in range(0, len(ids), 500):
        await db.execute(
            update(Mail).where(Mail.id.in_(ids[start : start + 500])).values(**values),
            execution_options={"synchronize_session": False},
        )


async def invitation_states(db: AsyncSession, session_id: str) -> dict[str, Mail]:
    """Each contact's latest invitation-kind mail (invitation, confirmation, update, cancel) for a session."""
    rows = (
        await db.execute(
            select(Mail)
            # Not the messages themselves: 10,000 of them are 100 MB, and only the states are shown.
            .options(defer(Mail.message, raiseload=True))
            .where(Mail.session_id == session_id, Mail.kind.in_([k.value for k in INVITATION_KINDS]))
            .order_by(Mail.created_at, Mail.id)
        )
    ).scalars()
    return {m.contact_id: m for m in rows if m.contact_id is not None}


async def recent(db: AsyncSession, limit: int = 100, status: str | None = None) -> Sequence[Mail]:
    query = select(Mail).order_by(Mail.created_at.desc(), Mail.id).limit(limit)
    if status is not None:
        query = query.where(Mail.status == status)
    return (await db.execute(query)).scalars().all()


async def counts(db: AsyncSession) -> dict[str, int]:
    rows = await db.execute(select(Mail.status, func.count()).group_by(Mail.status))
    return {status: int(n) for status, n in rows.tuples()}


def email_status(mail: Mail | None) -> str:
    """A freshly invited person's mail may not be queued yet (it is queued just after the commit)."""
    return mail.status if mail is not None else MailStatus.QUEUED.value
