"""Runs the engagement loop against the database: scores a session when it ends, evaluates the accounts it
touched (and, nightly, every account), writes the outcome with its history, runs the automations and
queues the webhooks, all in one transaction, then wakes the outbox."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts.model import Health
from live.accounts.store import get_account
from live.accounts.wire import account_json
from live.bus import BUS
from live.db.tables import Account, LiveSession, User
from live.domain_events import AccountChanged, ContactInvited, OverrideReleased, SessionEnded, SessionScored
from live.engagement import automations, store
from live.engagement.config import EngagementConfig
from live.engagement.engine import Change, Evaluation
from live.engagement.recompute import catch_up_times, evaluate_through
from live.engagement.report import AttendanceReport
from live.sessions import store as sessions
from live.sessions.model import SessionKind, SessionStatus
from live.sessions.wire import session_json
from live.typedefs import DB, ENGAGEMENT, EVENT_WRITER, SETTINGS
from live.webhooks import delivery
from live.webhooks import store as webhooks
from live.webhooks.model import WebhookEvent

log = logging.getLogger(__name__)

FIELD_EVENTS = {"tier": WebhookEvent.TIER_CHANGED, "phase": WebhookEvent.PHASE_CHANGED}


@dataclass(frozen=True)
class Loop:
    """What the loop needs besides the database: the configuration, the join-link secret, the public URL."""

    config: EngagementConfig
    secret: str
    public_url: str

    @classmethod
    def of(cls, app: web.Application) -> Loop:
        settings = app[SETTINGS]
        return cls(app[ENGAGEMENT], settings.secret_key, settings.public_url)

    async def fresh(self, db: AsyncSession) -> Loop:
        """This loop with the configuration in force: the newest applied version (PUT
        /api/v1/engagement/config, from any process), else LIVE_ENGAGEMENT."""
        from live.engagement.whatif import latest_config

        return Loop(await latest_config(db, self.config), self.secret, self.public_url)


@dataclass
class Outcome:
    evaluations: int = 0
    changes: list[tuple[str, Change]] = field(default_factory=list)
    proposed: list[str] = field(default_factory=list)  # check-in session ids
    webhooks: int = 0
    invited: list[ContactInvited] = field(default_factory=list)  # published after the commit


# --- a session ends ---------------------------------------------------------------------------


async def on_session_ended(app: web.Application, event: SessionEnded) -> None:
    """Scores a session that just ended here, once the event log holds its last moments."""
    # Write this process's log now, and give other processes one flush interval to write theirs.
    try:
        await app[EVENT_WRITER].flush()
        await asyncio.sleep(app[SETTINGS].event_flush_interval * 2)
    except Exception:
        log.exception("%s: could not flush the event log before scoring", event.session_id)
    await session_ended(app, event.session_id)


async def session_ended(app: web.Application, session_id: str) -> None:
    """Scores one ended session (once across processes) and tells the bus it is scored."""
    async with app[DB]() as db:
        outcome = await close_session(db, session_id, Loop.of(app), datetime.now(UTC))
        await db.commit()
    if outcome is not None:
        log.info(
            "%s: scored; %d accounts evaluated, %d changes, %d check-ins proposed",
            session_id, outcome.evaluations, len(outcome.changes), len(outcome.proposed),
        )
        delivery.poke(app)
        for invited in outcome.invited:
            await app[BUS].publish(invited)
        await app[BUS].publish(SessionScored(session_id))


async def close_session(db: AsyncSession, session_id: str, loop: Loop, now: datetime) -> Outcome | None:
    """Scores, evaluates, automates and announces one ended session, once (None if already done)."""
    session = await sessions.get_session(db, session_id)
    if session.status != SessionStatus.ENDED or not await store.claim_scoring(db, session_id, now):
        return None
    loop = await loop.fresh(db)
    report = await store.build_report(db, session, now, loop.config)
    # Two processes racing here both fail the unique (session, contact) constraint but one: only one commits.
    await store.replace_scores(db, report)
    account_ids = sorted({r.account_id for r in report.rows if r.contact_id is not None and r.account_id})
    outcome = await evaluate_accounts(db, account_ids, report.ended_at, loop, now)
    if session.kind == SessionKind.WELCOME_SEMINAR:
        outcome.invited += await automations.reinvite_no_shows(db, loop.secret, report, now)
    outcome.webhooks += await webhooks.enqueue(
        db, WebhookEvent.SESSION_ENDED.value, await session_report(db, session, report, loop.public_url)
    )
    return outcome


async def session_report(
    db: AsyncSession, session: LiveSession, report: AttendanceReport, public_url: str
) -> dict[str, Any]:
    """The whole report of an ended session: the session, every attendance row, the polls' results."""
    host = await db.get(User, session.host_id)
    events = await store.session_events(db, session.id)
    invited, known = await store.session_people(db, session.id, events)
    rows = [r.as_json() for r in report.rows]
    contacts = [r for r in report.rows if r.contact_id is not None]
    return {
        "session": session_json(session, host, public_url),
        "window": {
            "start": report.window.start.isoformat(),
            "end": report.window.end.isoformat(),
            "length_seconds": report.window.length_seconds,
        },
        "summary": {
            "invited": sum(1 for r in contacts if r.invited),
            "attended": sum(1 for r in contacts if r.attended),
            "no_shows": sum(1 for r in contacts if r.no_show),
        },
        "attendance": rows,
        "polls": await store.poll_results(db, session.id, {**known, **invited}),
        "config_version": report.config_version,
    }


# --- evaluating accounts ----------------------------------------------------------------------


async def evaluate_accounts(
    db: AsyncSession, account_ids: list[str], at: datetime, loop: Loop, now: datetime, *, at_end: bool = True
) -> Outcome:
    """Each account catches up the daily ticks it missed up to `at`, then (with `at_end`) is evaluated at
    `at`; every change is written with its history row, announced, and an account that turns at risk
    gets a proposed check-in."""
    outcome = Outcome()
    scores = await store.scores_of(db, account_ids)
    for account_id in account_ids:
        account = (
            await db.execute(select(Account).where(Account.id == account_id).with_for_update())
        ).scalar_one_or_none()
        if account is None:
            continue
        times = catch_up_times(store.snapshot(account), account.created_at, at)
        if at_end:
            times.append(at)
        for when in times:
            # One at a time, so each webhook carries the account as that evaluation left it.
            [(_, result)] = evaluate_through(db, account, scores.get(account_id, []), [when], loop.config)
            outcome.evaluations += 1
            if not result.changes:
                continue
            await db.flush()
            outcome.webhooks += await announce(db, account, result, when)
            outcome.changes += [(account.id, c) for c in result.changes]
            if turned_at_risk(result):
                proposed = await automations.propose_check_in(db, loop.secret, account, now)
                if proposed is not None:
                    outcome.proposed.append(proposed.id)
    return outcome


def turned_at_risk(result: Evaluation) -> bool:
    return any(c.field == "health" and c.new == Health.AT_RISK.value for c in result.changes)


async def announce(db: AsyncSession, account: Account, result: Evaluation, at: datetime) -> int:
    """One webhook per tier or phase change, and `account.at_risk` when the flag turns on."""
    count = 0
    for change in result.changes:
        if change.field in FIELD_EVENTS:
            kind = FIELD_EVENTS[change.field]
        elif change.field == "health" and change.new == Health.AT_RISK.value:
            kind = WebhookEvent.AT_RISK
        else:
            continue
        count += await webhooks.enqueue(db, kind.value, change_body(account, change, at))
    return count


def change_body(account: Account, change: Change, at: datetime) -> dict[str, Any]:
    return {
        "account": account_json(account),
        "field": change.field,
        "old": change.old,
        "new": change.new,
        "rule": change.rule,
        "reason": change.reason,
        "numbers": change.numbers,
        "evidence": change.evidence,
        "config_version": change.config_version,
        "at": at.isoformat(),
    }


async def reevaluate(app: web.Application, account_id: str) -> Outcome:
    """Evaluates one account now (a manual override was handed back to the engine)."""
    now = datetime.now(UTC)
    async with app[DB]() as db:
        outcome = await evaluate_accounts(db, [account_id], now, await Loop.of(app).fresh(db), now)
        await db.commit()
    delivery.poke(app)
    return outcome


async def catch_up_all(db: AsyncSession, loop: Loop, now: datetime, batch: int = 200) -> Outcome:
    """The nightly work: every account evaluated at each midnight it has not seen yet (decay, inactivity)."""
    total = Outcome()
    loop = await loop.fresh(db)
    ids = list((await db.execute(select(Account.id).order_by(Account.id))).scalars())
    for start in range(0, len(ids), batch):
        outcome = await evaluate_accounts(db, ids[start : start + batch], now, loop, now, at_end=False)
        # One transaction per batch: a long night never holds every account's row lock at once.
        await db.commit()
        total.evaluations += outcome.evaluations
        total.changes += outcome.changes
        total.proposed += outcome.proposed
        total.webhooks += outcome.webhooks
    return total


# --- manual changes ---------------------------------------------------------------------------


async def on_account_changed(app: web.Application, event: AccountChanged) -> None:
    """A manual change of tier or phase is announced like the engine's: one webhook `{account, field, old, new}`."""
    if event.field not in FIELD_EVENTS:
        return
    async with app[DB]() as db:
        account = account_json(await get_account(db, event.account_id))
        await webhooks.enqueue(
            db,
            FIELD_EVENTS[event.field].value,
            {"account": account, "field": event.field, "old": event.old, "new": event.new, "rule": "manual_override"},
        )
        await db.commit()
    delivery.poke(app)


async def on_override_released(app: web.Application, event: OverrideReleased) -> None:
    """A tier or phase handed back to the engine is re-evaluated at once, not at the next session or night."""
    await reevaluate(app, event.account_id)
