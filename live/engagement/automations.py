"""What follows automatically from changes: onboarding invitations, no-show re-invites, check-ins."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts.model import Phase
from live.auth.model import Role
from live.bus import BUS
from live.db.tables import Account, Contact, LiveSession, User
from live.domain_events import ContactAdded, ContactInvited, SessionScheduled
from live.sessions import store as sessions
from live.sessions.model import ONE_ON_ONE_MAX_PEOPLE, SessionKind, SessionStatus, free_slot, zone_of
from live.typedefs import DB, SETTINGS

if TYPE_CHECKING:
    from live.engagement.report import AttendanceReport

log = logging.getLogger(__name__)


async def next_welcome_seminar(db: object, after: datetime) -> LiveSession | None:
    query = (
        select(LiveSession)
        .where(
            LiveSession.kind == SessionKind.WELCOME_SEMINAR.value,
            LiveSession.status == SessionStatus.SCHEDULED.value,
            LiveSession.starts_at > after,
        )
        .order_by(LiveSession.starts_at)
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()  # type: ignore[attr-defined, no-any-return]


async def on_session_scheduled(app: web.Application, event: SessionScheduled) -> None:
    """A new welcome seminar invites the contacts of every account still in onboarding."""
    session_id = event.session_id
    async with app[DB]() as db:
        session = await sessions.get_session(db, session_id)
        if session.kind != SessionKind.WELCOME_SEMINAR:
            return
        contacts = (
            await db.execute(
                select(Contact).join(Account, Account.id == Contact.account_id).where(
                    Account.phase == Phase.ONBOARDING.value
                )
            )
        ).scalars().all()
        if not contacts:
            return
        invited = await sessions.invite(db, app[SETTINGS].secret_key, session, contacts, reason="onboarding")
        await db.commit()
    log.info("%s: invited %d onboarding contacts", session_id, len(contacts))
    await announce_invited(app, session_id, invited)


async def announce_invited(app: web.Application, session_id: str, invited: list[sessions.Invited]) -> None:
    """After the commit: each new invitation is a `ContactInvited` (mail sends it)."""
    for x in invited:
        if x.new:
            await app[BUS].publish(ContactInvited(session_id, x.contact.id))


async def on_contact_added(app: web.Application, event: ContactAdded) -> None:
    """A contact of an onboarding account is invited to the next welcome seminar."""
    async with app[DB]() as db:
        contact = await db.get(Contact, event.contact_id)
        account = await db.get(Account, contact.account_id) if contact else None
        if contact is None or account is None or account.phase != Phase.ONBOARDING:
            return
        seminar = await next_welcome_seminar(db, datetime.now(UTC))
        if seminar is None:
            return
        invited = await sessions.invite(db, app[SETTINGS].secret_key, seminar, [contact], reason="onboarding")
        await db.commit()
    await announce_invited(app, seminar.id, invited)


async def reinvite_no_shows(
    db: AsyncSession, secret: str, report: AttendanceReport, now: datetime
) -> list[ContactInvited]:
    """Every invited no-show of a welcome seminar is invited to the next one (reason "no_show"); the
    caller publishes the returned events after its commit (they send the invitation mails)."""
    no_shows = [r.contact_id for r in report.rows if r.no_show and r.invited and r.contact_id is not None]
    if not no_shows:
        return []
    seminar = await next_welcome_seminar(db, now)
    if seminar is None:
        log.info("%s: %d no-shows, but no welcome seminar is scheduled", report.session.id, len(no_shows))
        return []
    contacts = (await db.execute(select(Contact).where(Contact.id.in_(no_shows)))).scalars().all()
    invited = await sessions.invite(db, secret, seminar, contacts, reason="no_show")
    log.info("%s: invited %d no-shows to %s", report.session.id, len(contacts), seminar.id)
    return [ContactInvited(seminar.id, x.contact.id) for x in invited if x.new]


# A proposed check-in: from two business days out, mid-afternoon UTC (morning in the Americas, late
# afternoon in Europe), the CSM's first free half hour in their working hours. The CSM confirms or drops it.
CHECK_IN_BUSINESS_DAYS = 2
CHECK_IN_TIME = time(15, 0, tzinfo=UTC)
CHECK_IN_MINUTES = 30


def check_in_start(now: datetime, business_days: int = CHECK_IN_BUSINESS_DAYS) -> datetime:
    """15:00 UTC on the `business_days`-th weekday after `now`'s date."""
    day = now.astimezone(UTC).date()
    left = business_days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.combine(day, CHECK_IN_TIME)


async def check_in_slot(db: AsyncSession, host: User, now: datetime) -> datetime | None:
    """The host's first free half hour of working hours (their zone) from `check_in_start(now)`: never on
    top of a session they host, proposed check-ins included, so two are never proposed at once."""
    earliest = check_in_start(now)
    rows = await db.execute(
        select(LiveSession.starts_at, LiveSession.duration_minutes).where(
            LiveSession.host_id == host.id,
            LiveSession.status.in_([SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value]),
        )
    )
    busy = [(start, start + timedelta(minutes=minutes)) for start, minutes in rows.tuples()]
    return free_slot(busy, zone_of(host.timezone), earliest, CHECK_IN_MINUTES)


async def check_in_host(db: AsyncSession, account: Account) -> User | None:
    """The account's CSM, else the longest-serving CSM, else an admin."""
    if account.csm_email:
        user = (await db.execute(select(User).where(User.email == account.csm_email))).scalar_one_or_none()
        if user is not None:
            return user
    for role in (Role.CSM, Role.ADMIN):
        query = select(User).where(User.role == role.value).order_by(User.created_at, User.id).limit(1)
        user = (await db.execute(query)).scalar_one_or_none()
        if user is not None:
            return user
    return None


async def propose_check_in(db: AsyncSession, secret: str, account: Account, now: datetime) -> LiveSession | None:
    """An account that turns at risk gets a proposed one-on-one with its CSM, unless one is already coming."""
    coming = (
        await db.execute(
            select(LiveSession.id).where(
                LiveSession.account_id == account.id,
                LiveSession.kind == SessionKind.ONE_ON_ONE.value,
                LiveSession.status == SessionStatus.SCHEDULED.value,
                LiveSession.starts_at > now,
            )
        )
    ).first()
    if coming is not None:
        return None
    host = await check_in_host(db, account)
    if host is None:
        log.warning("account %s is at risk, but there is no CSM or admin to host a check-in", account.id)
        return None
    starts_at = await check_in_slot(db, host, now)
    if starts_at is None:
        log.warning("account %s is at risk, but %s has no free slot in the next 90 days", account.id, host.email)
        return None
    session = await sessions.create_session(
        db,
        kind=SessionKind.ONE_ON_ONE,
        title=f"Check-in: {account.name}",
        starts_at=starts_at,
        duration_minutes=CHECK_IN_MINUTES,
        host=host,
        proposed=True,
        account_id=account.id,
    )
    contacts = (
        await db.execute(
            select(Contact).where(Contact.account_id == account.id).order_by(Contact.created_at, Contact.id)
        )
    ).scalars().all()
    await sessions.invite(db, secret, session, contacts[: ONE_ON_ONE_MAX_PEOPLE - 1], reason="at_risk")
    log.info("account %s: at risk, proposed check-in %s with %s", account.id, session.id, host.email)
    return session
