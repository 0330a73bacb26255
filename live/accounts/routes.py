"""HTTP handlers for accounts, contacts and manual overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts import store
from live.accounts.contact_import import ImportRow, summary
from live.accounts.model import Health, Phase, Source, Tier, lifetime_value, normalize_domain
from live.accounts.wire import account_json, contact_json, history_json
from live.api.parse import MAX_BODY, Body, When, json_body, validate
from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.auth.store import normalize_email
from live.bus import BUS
from live.db.tables import Account
from live.domain_events import AccountChanged, AccountCreated, ContactAdded, OverrideReleased
from live.engagement import store as engagement_store
from live.engagement.report import engagement_series, explain
from live.engagement.whatif import latest_config
from live.errors import InvalidInput
from live.typedefs import DB, ENGAGEMENT

api = ApiRoutes("accounts")


def aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"'{name}' has value {value.isoformat()!r}. Times need a zone, e.g. 'Z' or '+02:00'.")
    return value


class AccountIn(Body):
    name: str = Field(min_length=1, max_length=200)
    plan: str = Field(min_length=1, max_length=100)
    mrr: float = Field(ge=0, le=1e9)
    signed_at: When | None = None
    csm_email: str | None = Field(default=None, max_length=320)
    domain: str | None = Field(default=None, max_length=253)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return normalize_domain(value)


class AccountPatch(Body):
    tier: Tier | None = None
    phase: Phase | None = None
    reason: str | None = Field(default=None, max_length=2000)
    expires_at: When | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    plan: str | None = Field(default=None, min_length=1, max_length=100)
    mrr: float | None = Field(default=None, ge=0, le=1e9)
    csm_email: str | None = Field(default=None, max_length=320)
    domain: str | None = Field(default=None, max_length=253)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return normalize_domain(value)


class ContactIn(Body):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)


class ImportIn(Body):
    csv: str = Field(max_length=MAX_BODY)
    confirm: bool = False


class AccountQuery(Body):
    tier: Tier | None = None
    phase: Phase | None = None
    health: Health | None = None


class AccountOut(Out):
    id: str
    name: str
    plan: str
    mrr: float
    ltv: float
    tier: str
    tier_source: str
    tier_override: dict[str, Any] | None
    phase: str
    phase_source: str
    phase_override: dict[str, Any] | None
    engagement: float | None
    health: str | None
    at_risk: bool
    csm_email: str | None
    domain: str | None
    signed_at: str | None
    created_at: str | None


class ContactOut(Out):
    id: str
    account_id: str
    name: str
    email: str
    created_at: str | None


class AccountDetailOut(AccountOut):
    history: list[dict[str, Any]]
    contacts: list[ContactOut]
    sessions: list[dict[str, Any]]


class AccountPatchedOut(AccountOut):
    history: list[dict[str, Any]]


@api.post("/api/v1/accounts", body=AccountIn, response=AccountOut, status=201, summary="Create an account")
async def create_account(request: web.Request) -> web.Response:
    staff = await require_staff(request, Action.WRITE_ACCOUNTS)
    body = await json_body(request, AccountIn)
    async with request.app[DB]() as db:
        account = await store.create_account(
            db,
            request.app[ENGAGEMENT],
            name=body.name,
            plan=body.plan,
            mrr=body.mrr,
            signed_at=body.signed_at,
            csm_email=body.csm_email,
            domain=body.domain,
            actor=staff.email,
        )
        await db.commit()
        payload = account_json(account)
    await request.app[BUS].publish(AccountCreated(payload["id"]))
    return web.json_response(payload, status=201)


@api.get("/api/v1/accounts", query=AccountQuery, response=list[AccountOut], summary="List accounts")
async def list_accounts(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_ACCOUNTS)
    query = validate(AccountQuery, {k: v for k, v in request.query.items() if v != ""})
    async with request.app[DB]() as db:
        accounts = await store.list_accounts(db, query.tier, query.phase, query.health)
        return web.json_response([account_json(a) for a in accounts])


@api.get("/api/v1/accounts/{id}", response=AccountDetailOut, summary="One account with history, contacts and sessions")
async def get_account(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_ACCOUNTS)
    async with request.app[DB]() as db:
        account = await store.get_account(db, request.match_info["id"])
        payload = account_json(account)
        payload["history"] = [history_json(h) for h in await store.history(db, account.id)]
        payload["contacts"] = [contact_json(c) for c in await store.contacts_of(db, account.id)]
        payload["sessions"] = await engagement_store.account_sessions(db, account.id)
        scores = (await engagement_store.scores_of(db, [account.id])).get(account.id, [])
        config = await latest_config(db, request.app[ENGAGEMENT])
        payload["engagement_series"] = engagement_series(scores, datetime.now(UTC), config)
        return web.json_response(payload)


@api.get("/api/v1/accounts/{id}/explain", response=Out, summary="Engagement, tier and phase with every input and rule")
async def explain_account(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_ACCOUNTS)
    async with request.app[DB]() as db:
        account = await store.get_account(db, request.match_info["id"])
        scores = (await engagement_store.scores_of(db, [account.id])).get(account.id, [])
        titles = await engagement_store.session_titles(db, (s.session_id for s in scores))
        names = {c.id: c.name for c in await store.contacts_of(db, account.id)}
        config = await latest_config(db, request.app[ENGAGEMENT])
        payload = explain(engagement_store.snapshot(account), scores, datetime.now(UTC), config)
        for line in payload["engagement"]["sessions"]:
            line["title"] = titles.get(line["session_id"])
            line["contact_name"] = names.get(line["contact_id"])
        payload["account"] = account_json(account)
        payload["stored"] = {"engagement": account.engagement, "health": account.health, "tier": account.tier,
                             "phase": account.phase, "engine_state": account.engine_state}
        return web.json_response(payload)


@api.patch("/api/v1/accounts/{id}", body=AccountPatch, response=AccountPatchedOut, summary="Pin or release tier and phase; edit name, plan, MRR, CSM")
async def patch_account(request: web.Request) -> web.Response:
    staff = await require_staff(request, Action.WRITE_ACCOUNTS)
    body = await json_body(request, AccountPatch)
    given = body.model_fields_set
    if not given:
        raise InvalidInput("Nothing to change: send tier, phase, name, plan, mrr, csm_email or domain.")
    if ({"tier", "phase"} & given) and not {"tier", "phase"} & {k for k in given if getattr(body, k) is None}:
        # Pinning a value needs a reason; handing it back to the engine does not.
        if not body.reason:
            raise InvalidInput("A manual override needs a 'reason'.")
    aware(body.expires_at, "expires_at")
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise InvalidInput(f"'expires_at' has value {body.expires_at.isoformat()!r}, which is in the past.")
    if ({"tier", "phase"} & given) or "expires_at" in given:
        await require_staff(request, Action.OVERRIDE_ACCOUNTS)
    config = request.app[ENGAGEMENT]
    async with request.app[DB]() as db:
        account = await store.get_account(db, request.match_info["id"])
        for field in ("name", "plan", "csm_email", "domain"):
            if field in given:
                value = getattr(body, field)
                if field == "csm_email" and value:
                    value = normalize_email(value)
                elif value is None and field not in ("csm_email", "domain"):
                    raise InvalidInput(f"'{field}' cannot be null.")
                setattr(account, field, value)
        if "mrr" in given:
            if body.mrr is None:
                raise InvalidInput("'mrr' cannot be null.")
            account.mrr = body.mrr
            account.ltv = lifetime_value(body.mrr, config.gross_margin, config.monthly_churn)
        released = [
            f for f in ("tier", "phase")
            if f in given and getattr(body, f) is None and getattr(account, f"{f}_source") == Source.MANUAL
        ]
        changes = _apply_overrides(db, account, body, given, staff.email, config.version)
        if "mrr" in given and account.tier_source == Source.ENGINE:
            new_tier = store.engine_tier(account, config)
            if new_tier.value != account.tier:
                changes.append(("tier", account.tier, new_tier.value))
                store.record_change(
                    db, account, "tier", account.tier, new_tier.value, rule="ltv_band",
                    reason=store.ltv_reason(account.mrr, account.ltv, new_tier, config),
                    numbers={"mrr": account.mrr, "ltv": account.ltv}, config_version=config.version,
                    actor=staff.email,
                )
                account.tier = new_tier.value
        await db.commit()
        payload = account_json(account)
        payload["history"] = [history_json(h) for h in await store.history(db, account.id)]
    for field, old, new in changes:
        await request.app[BUS].publish(AccountChanged(account.id, field, old, new))
    if released:
        # The engine takes over at once; the body stays the account as released, and says what the engine
        # then decided (a GET shows the account after both).
        for field in released:
            await request.app[BUS].publish(OverrideReleased(account.id, field))
        async with request.app[DB]() as db:
            after = account_json(await store.get_account(db, account.id))
        payload["reevaluated"] = {k: after[k] for k in ("tier", "tier_source", "phase", "phase_source", "health", "engagement")}
    return web.json_response(payload)


def _apply_overrides(
    db: AsyncSession, account: Account, body: AccountPatch, given: set[str], actor: str, version: str
) -> list[tuple[str, str, str]]:
    """Pins or releases tier and phase; returns (field, old, new) for each value that changed."""
    changes: list[tuple[str, str, str]] = []
    for field in ("tier", "phase"):
        if field not in given:
            continue
        value = getattr(body, field)
        old = getattr(account, field)
        if value is None:
            if getattr(account, f"{field}_source") == Source.MANUAL:
                setattr(account, f"{field}_source", Source.ENGINE.value)
                setattr(account, f"{field}_override_reason", None)
                setattr(account, f"{field}_override_expires_at", None)
                store.record_change(
                    db, account, field, old, old, rule="override_released", source=Source.MANUAL,
                    reason=body.reason or f"{field.capitalize()} handed back to the engine.",
                    config_version=version, actor=actor,
                )
            continue
        setattr(account, field, value.value)
        setattr(account, f"{field}_source", Source.MANUAL.value)
        setattr(account, f"{field}_override_reason", body.reason)
        setattr(account, f"{field}_override_expires_at", body.expires_at)
        until = f" until {body.expires_at.isoformat()}" if body.expires_at else ""
        store.record_change(
            db, account, field, old, value.value, rule="manual_override", source=Source.MANUAL,
            reason=f"{body.reason} (pinned by {actor}{until})", config_version=version, actor=actor,
        )
        if old != value.value:
            changes.append((field, old, value.value))
    return changes


@api.post("/api/v1/accounts/{id}/contacts", body=ContactIn, response=ContactOut, status=201, errors=(409,), summary="Add a contact")
async def add_contact(request: web.Request) -> web.Response:
    await require_staff(request, Action.WRITE_ACCOUNTS)
    body = await json_body(request, ContactIn)
    async with request.app[DB]() as db:
        account = await store.get_account(db, request.match_info["id"])
        contact = await store.add_contact(db, account, body.name, body.email)
        await db.commit()
        payload = contact_json(contact)
    await request.app[BUS].publish(ContactAdded(payload["id"], payload["account_id"]))
    return web.json_response(payload, status=201)


@api.get("/api/v1/accounts/{id}/contacts", response=list[ContactOut], summary="The contacts of an account")
async def list_contacts(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_ACCOUNTS)
    async with request.app[DB]() as db:
        account = await store.get_account(db, request.match_info["id"])
        return web.json_response([contact_json(c) for c in await store.contacts_of(db, account.id)])


def import_row_json(row: ImportRow) -> dict[str, Any]:
    return {
        "line": row.line,
        "name": row.name,
        "email": row.email,
        "account": row.account,
        "account_id": row.account_id,
        "account_name": row.account_name,
        "status": row.status.value,
        "errors": list(row.errors),
    }


@api.post("/api/v1/contacts/import", body=ImportIn, response=Out, summary="Import contacts from CSV: a preview, or with confirm all rows or none")
async def import_contacts(request: web.Request) -> web.Response:
    """`{csv}` previews every row (new, duplicate or error); `{csv, confirm: true}` adds the new ones in
    one transaction, or nothing at all when any row has an error."""
    await require_staff(request, Action.WRITE_ACCOUNTS)
    body = await json_body(request, ImportIn)
    async with request.app[DB]() as db:
        rows = await store.plan_import(db, body.csv)
        added = await store.apply_import(db, rows) if body.confirm else []
        await db.commit()
        payload = {
            "rows": [import_row_json(r) for r in rows],
            "summary": summary(rows),
            "imported": len(added),
            "confirmed": body.confirm,
        }
        added_ids = [(c.id, c.account_id) for c in added]
    for contact_id, account_id in added_ids:  # as for a contact added by hand, one event each
        await request.app[BUS].publish(ContactAdded(contact_id, account_id))
    return web.json_response(payload, status=201 if body.confirm else 200)
