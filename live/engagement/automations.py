"""What follows automatically from changes: onboarding invitations, no-show re-invites, check-ins."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select

from live.accounts.model import Phase
from live.db.tables import Account, Contact, LiveSession
from live.sessions import store as sessions
from live.sessions.model import SessionKind, SessionStatus
from live.typedefs import DB, SETTINGS

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


async def on_session_scheduled(app: web.Application, session_id: str) -> None:
    """A new welcome seminar invites the contacts of every account still in onboarding."""
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
        if contacts:
            await sessions.invite(db, app[SETTINGS].secret_key, session, contacts, reason="onboarding")
            await db.commit()
            log.info("%s: invited %d onboarding contacts", session_id, len(contacts))


async def on_contact_added(app: web.Application, contact_id: str) -> None:
    """A contact of an onboarding account is invited to the next welcome seminar."""
    async with app[DB]() as db:
        contact = await db.get(Contact, contact_id)
        account = await db.get(Account, contact.account_id) if contact else None
        if contact is None or account is None or account.phase != Phase.ONBOARDING:
            return
        seminar = await next_welcome_seminar(db, datetime.now(UTC))
        if seminar is not None:
            await sessions.invite(db, app[SETTINGS].secret_key, seminar, [contact], reason="onboarding")
            await db.commit()


async def on_account_created(app: web.Application, account_id: str) -> None:
    """Nothing to invite yet: a new account has no contacts until they are added."""


async def on_account_changed(app: web.Application, account_id: str, changes: list[tuple[str, str, str]]) -> None:
    """Manual changes of tier or phase are announced like the engine's (webhooks)."""
    from live.engagement.service import announce_changes

    await announce_changes(app, account_id, changes)
