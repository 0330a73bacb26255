"""Accounts, contacts and their history as JSON: the one wire format the API, webhooks and pages share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from live.accounts.model import Source
from live.db.tables import Account, AccountHistory, Contact
from live.isotime import iso


def history_json(row: AccountHistory) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "field": row.field,
        "old": row.old,
        "new": row.new,
        "source": row.source,
        "rule": row.rule,
        "reason": row.reason,
        "numbers": row.numbers,
        "evidence": row.evidence,
        "config_version": row.config_version,
        "actor": row.actor,
        "at": iso(row.at),
    }


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "account_id": contact.account_id,
        "name": contact.name,
        "email": contact.email,
        "created_at": iso(contact.created_at),
    }


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "plan": account.plan,
        "mrr": account.mrr,
        "ltv": round(account.ltv, 2),
        "tier": account.tier,
        "tier_source": account.tier_source,
        "tier_override": _override(account.tier_override_reason, account.tier_override_expires_at)
        if account.tier_source == Source.MANUAL
        else None,
        "phase": account.phase,
        "phase_source": account.phase_source,
        "phase_override": _override(account.phase_override_reason, account.phase_override_expires_at)
        if account.phase_source == Source.MANUAL
        else None,
        "engagement": None if account.engagement is None else round(account.engagement, 1),
        "health": account.health,
        "at_risk": bool((account.engine_state or {}).get("at_risk")),
        "csm_email": account.csm_email,
        "domain": account.domain,
        "signed_at": iso(account.signed_at),
        "created_at": iso(account.created_at),
    }


def _override(reason: str | None, expires_at: datetime | None) -> dict[str, Any]:
    return {"reason": reason, "expires_at": iso(expires_at)}
