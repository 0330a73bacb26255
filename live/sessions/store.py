"""Sessions and invitations in the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.tables import Contact, Invitation, LiveSession, User, new_id
from live.errors import Conflict, InvalidInput, NotFound
from live.sessions.invitations import make_join_token
from live.sessions.model import (
    ONE_ON_ONE_MAX_PEOPLE,
    ScheduleWarning,
    SessionKind,
    SessionStatus,
    check_cancellable,
    check_editable,
    schedule_warnings,
)


async def get_session(db: AsyncSession, session_id: str) -> LiveSession:
    session = await db.get(LiveSession, session_id)
    if session is None:
        raise NotFound(f"Session {session_id!r} does not exist.")
    return session


async def list_sessions(
    db: AsyncSession,
    status: SessionStatus | None = None,
    kind: SessionKind | None = None,
    since: datetime | None = None,
) -> Sequence[LiveSession]:
    query = select(LiveSession).order_by(LiveSession.starts_at)
    if status is not None:
        query = query.where(LiveSession.status == status.value)
    if kind is not None:
        query = query.where(LiveSession.kind == kind.value)
    if since is not None:
        query = query.where(LiveSession.starts_at >= since)
    return (await db.execute(query)).scalars().all()


async def create_session(
    db: AsyncSession,
    *,
    kind: SessionKind,
    title: str,
    starts_at: datetime,
    duration_minutes: int,
    host: User,
    proposed: bool = False,
    account_id: str | None = None,
) -> LiveSession:
    session = LiveSession(
        kind=kind.value,
        title=title,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        host_id=host.id,
        status=SessionStatus.SCHEDULED.value,
        proposed=proposed,
        account_id=account_id,
    )
    db.add(session)
    await db.flush()
    return session


async def contacts_for(
    db: AsyncSession, contact_ids: Iterable[str] = (), account_ids: Iterable[str] = ()
) -> list[Contact]:
    """The named contacts plus every contact of the named accounts, each once; unknown ids refused."""
    contact_ids = list(dict.fromkeys(contact_ids))
    account_ids = list(dict.fromkeys(account_ids))
    found: dict[str, Contact] = {}
    if contact_ids:
        rows = (await db.execute(select(Contact).where(Contact.id.in_(contact_ids)))).scalars().all()
        found.update({c.id: c for c in rows})
        missing = [cid for cid in contact_ids if cid not in found]
        if missing:
            raise InvalidInput(f"Contact {missing[0]!r} does not exist.")
    if account_ids:
        from live.db.tables import Account

        known = set((await db.execute(select(Account.id).where(Account.id.in_(account_ids)))).scalars().all())
        missing = [aid for aid in account_ids if aid not in known]
        if missing:
            raise InvalidInput(f"Account {missing[0]!r} does not exist.")
        rows = (
            await db.execute(select(Contact).where(Contact.account_id.in_(account_ids)).order_by(Contact.created_at))
        ).scalars().all()
        for contact in rows:
            found.setdefault(contact.id, contact)
    return list(found.values())


@dataclass(frozen=True)
class Invited:
    invitation: Invitation
    contact: Contact
    new: bool  # False: the contact was invited before, and this is that same invitation


async def invite(
    db: AsyncSession, secret: str, session: LiveSession, contacts: Sequence[Contact], reason: str = "manual"
) -> list[Invited]:
    """Invites each contact once; re-inviting returns the existing invitation and link."""
    if session.status == SessionStatus.ENDED:
        raise InvalidInput(f"Session {session.title!r} has ended; nobody can be invited to it any more.")
    if session.status == SessionStatus.CANCELLED:
        raise InvalidInput(f"Session {session.title!r} was cancelled; nobody can be invited to it any more.")
    existing = {
        inv.contact_id: inv
        for inv in (await db.execute(select(Invitation).where(Invitation.session_id == session.id))).scalars()
    }
    if session.kind == SessionKind.ONE_ON_ONE:
        total = len(set(existing) | {c.id for c in contacts})
        if total > ONE_ON_ONE_MAX_PEOPLE - 1:
            raise InvalidInput(
                f"A one-on-one holds the CSM and at most {ONE_ON_ONE_MAX_PEOPLE - 1} contacts; "
                f"this would make {total} contacts."
            )
    result = []
    rows: list[dict[str, object]] = []
    now = datetime.now(UTC)
    for contact in contacts:
        invitation = existing.get(contact.id)
        new = invitation is None
        if invitation is None:
            row = {"id": new_id(), "session_id": session.id, "contact_id": contact.id,
                   "token": make_join_token(secret, session.id, contact.id), "reason": reason, "created_at": now}
            rows.append(row)
            invitation = existing[contact.id] = Invitation(**row)
        result.append(Invited(invitation, contact, new))
    # One Core executemany INSERT per chunk, not the ORM's unit of work: inviting a 10,000-person account is
    # a handful of statements. The objects returned are not in the session; what is (a registrant's new
    # contact) is flushed first, so the rows' foreign keys find it.
    await db.flush()
    for start in range(0, len(rows), INSERT_CHUNK):
        await db.execute(insert(INVITATIONS), rows[start : start + INSERT_CHUNK])
    return result


INSERT_CHUNK = 1000
INVITATIONS = cast(Table, Invitation.__table__)  # the Core table: no ORM bookkeeping per row


async def invitations_of(db: AsyncSession, session_id: str) -> list[tuple[Invitation, Contact]]:
    rows = await db.execute(
        select(Invitation, Contact)
        .join(Contact, Contact.id == Invitation.contact_id)
        .where(Invitation.session_id == session_id)
        .order_by(Contact.name)
    )
    return [(inv, contact) for inv, contact in rows.tuples()]


async def invitation_by_token(db: AsyncSession, token: str) -> Invitation | None:
    return (await db.execute(select(Invitation).where(Invitation.token == token))).scalar_one_or_none()


async def count_invitations(db: AsyncSession, session_id: str) -> int:
    query = select(func.count()).select_from(Invitation).where(Invitation.session_id == session_id)
    return int((await db.execute(query)).scalar_one())


async def invited_account_names(db: AsyncSession, session_id: str) -> list[str]:
    """The account name of each invited contact (one entry per invitation), for the schedule warnings."""
    from live.db.tables import Account

    rows = await db.execute(
        select(Account.name)
        .join(Contact, Contact.account_id == Account.id)
        .join(Invitation, Invitation.contact_id == Contact.id)
        .where(Invitation.session_id == session_id)
    )
    return list(rows.scalars().all())


async def warnings_for(db: AsyncSession, session: LiveSession, now: datetime) -> list[ScheduleWarning]:
    return schedule_warnings(
        SessionKind(session.kind),
        SessionStatus(session.status),
        session.starts_at,
        now,
        await invited_account_names(db, session.id),
    )


async def reschedule(db: AsyncSession, session: LiveSession, changes: dict[str, object]) -> bool:
    """Applies `changes` (title, starts_at, duration_minutes, host_id) to a scheduled session; True if any
    differed, in which case its calendar SEQUENCE goes up."""
    check_editable(session.status, session.title)
    changed = False
    for field, value in changes.items():
        if getattr(session, field) != value:
            setattr(session, field, value)
            changed = True
    if changed:
        session.sequence = (session.sequence or 0) + 1
    await db.flush()
    return changed


async def cancel(db: AsyncSession, session: LiveSession) -> None:
    check_cancellable(session.status, session.title)
    session.status = SessionStatus(session.status).transition(SessionStatus.CANCELLED).value
    session.cancelled_at = datetime.now(UTC)
    session.sequence = (session.sequence or 0) + 1
    await db.flush()


async def uninvite(db: AsyncSession, session: LiveSession, contact_id: str) -> None:
    """Takes an invitation back: its join link stops working. Not once the session has run."""
    if session.status in (SessionStatus.LIVE, SessionStatus.ENDED):
        raise Conflict(
            f"Session {session.title!r} is {session.status}; its invitations are part of its record now.",
            code="bad_status",
        )
    result = await db.execute(
        delete(Invitation).where(Invitation.session_id == session.id, Invitation.contact_id == contact_id)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise NotFound(f"Contact {contact_id!r} is not invited to session {session.title!r}.")
