"""Accounts, contacts and account history in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts import contact_import
from live.accounts.contact_import import AccountRef, ImportRow, RowStatus
from live.accounts.model import Phase, Source, Tier, lifetime_value, normalize_domain, raise_tier, tier_for_ltv
from live.auth.store import normalize_email
from live.db.tables import Account, AccountHistory, Contact
from live.engagement.config import EngagementConfig
from live.errors import Conflict, InvalidInput, NotFound


async def get_account(db: AsyncSession, account_id: str) -> Account:
    account = await db.get(Account, account_id)
    if account is None:
        raise NotFound(f"Account {account_id!r} does not exist.")
    return account


async def list_accounts(
    db: AsyncSession, tier: Tier | None = None, phase: Phase | None = None, health: str | None = None
) -> Sequence[Account]:
    query = select(Account).order_by(Account.name)
    if tier is not None:
        query = query.where(Account.tier == tier.value)
    if phase is not None:
        query = query.where(Account.phase == phase.value)
    if health is not None:
        query = query.where(Account.health == health)
    return (await db.execute(query)).scalars().all()


def engine_tier(account: Account, config: EngagementConfig) -> Tier:
    """The LTV band, raised one step while the engine holds the account at risk."""
    tier = tier_for_ltv(account.ltv, config.high_band, config.low_band)
    if (account.engine_state or {}).get("at_risk"):
        tier = raise_tier(tier)
    return tier


def record_change(
    db: AsyncSession,
    account: Account,
    field: str,
    old: str | None,
    new: str | None,
    *,
    rule: str,
    reason: str,
    source: Source = Source.ENGINE,
    numbers: dict[str, Any] | None = None,
    evidence: list[Any] | None = None,
    config_version: str = "",
    actor: str | None = None,
    at: datetime | None = None,
) -> AccountHistory:
    row = AccountHistory(
        account_id=account.id,
        field=field,
        old=old,
        new=new,
        source=source.value,
        rule=rule,
        reason=reason,
        numbers=numbers or {},
        evidence=evidence or [],
        config_version=config_version,
        actor=actor,
        at=at or datetime.now(UTC),
    )
    db.add(row)
    return row


async def create_account(
    db: AsyncSession,
    config: EngagementConfig,
    *,
    name: str,
    plan: str,
    mrr: float,
    signed_at: datetime | None = None,
    csm_email: str | None = None,
    domain: str | None = None,
    actor: str | None = None,
) -> Account:
    ltv = lifetime_value(mrr, config.gross_margin, config.monthly_churn)
    tier = tier_for_ltv(ltv, config.high_band, config.low_band)
    account = Account(
        name=name,
        plan=plan,
        mrr=mrr,
        ltv=ltv,
        tier=tier.value,
        phase=Phase.ONBOARDING.value,
        signed_at=signed_at or datetime.now(UTC),
        csm_email=normalize_email(csm_email) if csm_email else None,
        domain=normalize_domain(domain),
        engine_state={},
    )
    db.add(account)
    await db.flush()
    record_change(
        db,
        account,
        "tier",
        None,
        tier.value,
        rule="ltv_band",
        reason=ltv_reason(mrr, ltv, tier, config),
        numbers={"mrr": mrr, "ltv": ltv, "gross_margin": config.gross_margin, "monthly_churn": config.monthly_churn},
        config_version=config.version,
        actor=actor,
    )
    record_change(
        db, account, "phase", None, Phase.ONBOARDING.value, rule="new_account",
        reason="New accounts start in onboarding until a contact attends a welcome seminar.",
        config_version=config.version, actor=actor,
    )
    return account


def ltv_reason(mrr: float, ltv: float, tier: Tier, config: EngagementConfig) -> str:
    return (
        f"LTV {ltv:,.0f} = MRR {mrr:,.2f} × margin {config.gross_margin} ÷ churn {config.monthly_churn}; "
        f"bands: high ≥ {config.high_band:,.0f}, low ≥ {config.low_band:,.0f}, so {tier.value}."
    )


async def history(db: AsyncSession, account_id: str) -> Sequence[AccountHistory]:
    query = (
        select(AccountHistory)
        .where(AccountHistory.account_id == account_id)
        .order_by(AccountHistory.at.desc(), AccountHistory.id.desc())
    )
    return (await db.execute(query)).scalars().all()


async def contacts_of(db: AsyncSession, account_id: str) -> Sequence[Contact]:
    query = select(Contact).where(Contact.account_id == account_id).order_by(Contact.created_at, Contact.name)
    return (await db.execute(query)).scalars().all()


async def add_contact(db: AsyncSession, account: Account, name: str, email: str) -> Contact:
    email = normalize_email(email)
    existing = (
        await db.execute(select(Contact).where(Contact.account_id == account.id, Contact.email == email))
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(f"Account {account.name!r} already has a contact with email {email!r}.")
    contact = Contact(account_id=account.id, name=name, email=email)
    db.add(contact)
    await db.flush()
    return contact


async def get_contact(db: AsyncSession, contact_id: str) -> Contact:
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"Contact {contact_id!r} does not exist.")
    return contact


async def directory(db: AsyncSession) -> list[tuple[Account, list[Contact]]]:
    """Every account by name with its contacts by name: the pickers that invite single contacts."""
    accounts: dict[str, tuple[Account, list[Contact]]] = {a.id: (a, []) for a in await list_accounts(db)}
    contacts: list[Contact] = list((await db.execute(select(Contact).order_by(Contact.name))).scalars().all())
    for contact in contacts:
        if contact.account_id in accounts:
            accounts[contact.account_id][1].append(contact)
    return list(accounts.values())


async def plan_import(db: AsyncSession, text: str) -> list[ImportRow]:
    """The CSV's rows checked against the accounts and contacts as they are now."""
    rows = contact_import.parse_csv(text)
    accounts = [AccountRef(a.id, a.name) for a in await list_accounts(db)]
    existing = (await db.execute(select(Contact.account_id, Contact.email))).tuples().all()
    return contact_import.plan(rows, accounts, existing)


async def apply_import(db: AsyncSession, rows: Sequence[ImportRow]) -> list[Contact]:
    """Adds every new row in the caller's transaction; refused whole if any row has an error."""
    bad = [r for r in rows if r.status is RowStatus.ERROR]
    if bad:
        first = bad[0]
        raise InvalidInput(
            f"{len(bad)} row(s) have errors, so nothing was imported; line {first.line}: {'; '.join(first.errors)}.",
            code="import_invalid",
        )
    added = []
    for row in rows:
        if row.status is RowStatus.NEW and row.account_id is not None:
            contact = Contact(account_id=row.account_id, name=row.name, email=row.email)
            db.add(contact)
            added.append(contact)
    await db.flush()
    return added
