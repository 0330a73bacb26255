"""Registrations in the database: who a registrant is (contact, account by domain, or Unassigned), and their answers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts import store as accounts
from live.db.tables import Account, Contact, Registration
from live.engagement.config import EngagementConfig
from live.registration.model import UNASSIGNED, Registrant


@dataclass(frozen=True)
class Matched:
    contact: Contact
    account: Account
    new_contact: bool


async def match(db: AsyncSession, registrant: Registrant, config: EngagementConfig) -> Matched:
    """A known address is that contact; else a known domain adds a contact to that account; else the
    person is filed under the account named "Unassigned" (made on first use) for a CSM to sort out."""
    contact = (
        await db.execute(
            select(Contact).where(func.lower(Contact.email) == registrant.email).order_by(Contact.created_at).limit(1)
        )
    ).scalar_one_or_none()
    if contact is not None:
        account = await db.get(Account, contact.account_id)
        assert account is not None
        return Matched(contact, account, False)
    account = (
        await db.execute(
            select(Account).where(func.lower(Account.domain) == registrant.domain).order_by(Account.created_at).limit(1)
        )
    ).scalar_one_or_none()
    if account is None:
        account = (
            await db.execute(select(Account).where(Account.name == UNASSIGNED).order_by(Account.created_at).limit(1))
        ).scalar_one_or_none()
    if account is None:
        account = await accounts.create_account(
            db, config, name=UNASSIGNED, plan="none", mrr=0, actor="registration"
        )
    contact = await accounts.add_contact(db, account, registrant.name, registrant.email)
    return Matched(contact, account, True)


async def save(db: AsyncSession, session_id: str, contact_id: str, registrant: Registrant) -> Registration:
    """The registration of one person for one session; registering again keeps the first answers."""
    existing = (
        await db.execute(
            select(Registration).where(Registration.session_id == session_id, Registration.contact_id == contact_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    row = Registration(session_id=session_id, contact_id=contact_id, company=registrant.company,
                       answers=registrant.answers)
    db.add(row)
    await db.flush()
    return row


async def answers_of(db: AsyncSession, session_id: str) -> dict[str, dict[str, str]]:
    rows = (await db.execute(select(Registration).where(Registration.session_id == session_id))).scalars()
    return {r.contact_id: dict(r.answers or {}) for r in rows}
