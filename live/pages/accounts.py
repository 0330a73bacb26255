"""The accounts pages: every account by tier, phase and health; one account's engagement, history and sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from aiohttp import web

from live.accounts import store as accounts
from live.accounts.model import PHASE_ORDER, TIER_ORDER, Health, Phase, Tier
from live.auth.model import Action
from live.db.tables import Account
from live.engagement import store as engagement_store
from live.engagement.config import EngagementConfig
from live.engagement.report import engagement_series, explain_in_words
from live.engagement.whatif import latest_config
from live.pages import reports
from live.pages.base import render, routes, staff_or_login
from live.pages.charts import line_chart
from live.typedefs import DB, ENGAGEMENT

# Column -> how rows sort on it; tiers and phases sort in their natural order, not alphabetically.
SORT_KEYS: dict[str, Any] = {
    "name": lambda a: a.name.lower(),
    "plan": lambda a: a.plan.lower(),
    "mrr": lambda a: a.mrr,
    "ltv": lambda a: a.ltv,
    "tier": lambda a: TIER_ORDER.index(Tier(a.tier)) if a.tier in Tier._value2member_map_ else -1,
    "phase": lambda a: PHASE_ORDER.index(Phase(a.phase)) if a.phase in Phase._value2member_map_ else -1,
    "engagement": lambda a: -1.0 if a.engagement is None else a.engagement,
    "health": lambda a: ["at_risk", "unengaged", "neutral", "healthy"].index(a.health) if a.health in Health._value2member_map_ else -1,
}
COLUMNS = [
    ("name", "Account"),
    ("plan", "Plan"),
    ("mrr", "MRR"),
    ("ltv", "LTV"),
    ("tier", "Tier"),
    ("phase", "Phase"),
    ("engagement", "Engagement"),
    ("health", "Health"),
]


C = TypeVar("C", bound=Enum)


def _choice(value: str | None, enum: type[C]) -> C | None:
    return enum(value) if value in enum._value2member_map_ else None


@routes.get("/accounts")
async def account_list(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.READ_ACCOUNTS)
    query = request.query
    tier, phase, health = _choice(query.get("tier"), Tier), _choice(query.get("phase"), Phase), _choice(
        query.get("health"), Health
    )
    sort = query.get("sort", "name")
    sort = sort if sort in SORT_KEYS else "name"
    descending = query.get("dir") == "desc"
    async with request.app[DB]() as db:
        rows = list(await accounts.list_accounts(db, tier, phase, health.value if health else None))
    rows.sort(key=SORT_KEYS[sort], reverse=descending)
    filters = {"tier": tier.value if tier else "", "phase": phase.value if phase else "", "health": health.value if health else ""}
    return render(
        request,
        "accounts.html",
        staff,
        accounts=rows,
        filters=filters,
        sort=sort,
        descending=descending,
        columns=COLUMNS,
        tiers=[t.value for t in Tier],
        phases=[p.value for p in PHASE_ORDER],
        healths=[h.value for h in Health],
    )


@routes.get("/accounts/{id}")
async def account_page(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.READ_ACCOUNTS)
    # The same reads as `GET /api/v1/accounts/{id}`.
    async with request.app[DB]() as db:
        config = await latest_config(db, request.app[ENGAGEMENT])
        account: Account = await accounts.get_account(db, request.match_info["id"])
        history = list(await accounts.history(db, account.id))
        contacts = list(await accounts.contacts_of(db, account.id))
        attended = await engagement_store.account_sessions(db, account.id)
        scores = (await engagement_store.scores_of(db, [account.id])).get(account.id, [])
    now = datetime.now(UTC)
    series = reports.series_points(engagement_series(scores, now, config))
    why = explain_in_words(
        scores, now, config, {c.id: c.name for c in contacts}, {s["id"]: s["title"] for s in attended},
        [(s["title"], _not_counted(s, config)) for s in attended if s["status"] == "ended" and s["best_score"] is None],
    )
    # Guide lines: below the first the account is at risk; the second is the bar for establishment.
    thresholds = (config.at_risk_engagement, config.establishment_engagement)
    return render(
        request,
        "account.html",
        staff,
        account=account,
        history=history,
        contacts=contacts,
        sessions=attended,
        chart=line_chart(series, thresholds=thresholds),
        at_risk=bool((account.engine_state or {}).get("at_risk")),
        tiers=[t.value for t in Tier],
        phases=[p.value for p in PHASE_ORDER],
        describe_numbers=reports.describe_numbers,
        why=why,
    )


def _not_counted(session: dict[str, Any], config: EngagementConfig) -> str:
    """Why an ended session left no score for the account, in the words of the attendance report."""
    started, ended = session.get("started_at"), session.get("ended_at")
    needed = max(config.min_scored_minutes, config.min_scored_share * session["duration_minutes"])
    if started and ended:
        ran = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds() / 60
        if ran < needed:
            return f"too short to score (it ran {ran:.1f} minutes, {needed:g} needed)"
    return "it ran far from its scheduled time and nobody from this account came, so nobody is a no-show"
