"""When accounts are evaluated, and `live scores recompute`: the same timeline replayed from the event log.

An account is evaluated at two kinds of moments, both fixed by the data rather than by when a process
happens to run: at the end of every session its contacts were invited to, and at every midnight UTC
after it was created (the daily tick that lets decay and inactivity act). The incremental path catches
up the ticks it missed before each evaluation (`catch_up_times`); the recompute evaluates the merged
timeline in order with `replay` (in memory, quiet days skipped with the same outcome), writing only the changes
and the final state; the incremental path calls `evaluate_through`. Both run the same `evaluate`, so a recompute
reproduces the incremental history.
"""

from __future__ import annotations

import logging
import sys
import time as clock
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts.model import Health, Phase, Source, Tier, lifetime_value, tier_for_ltv
from live.db.tables import Account, AccountHistory, Contact, Invitation, LiveSession, SessionScore
from live.engagement import store
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot, Change, EngineState, Evaluation, evaluate, quiet_until
from live.engagement.model import ScoredSession, ScoreHistory
from live.engagement.report import attendance_report
from live.sessions.model import SessionStatus
from live.settings import Settings

log = logging.getLogger(__name__)

# The daily evaluation happens at midnight UTC: one fixed instant per day, whoever runs it and whenever.
TICK_TIME = time(0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# Engine history rows have no actor; manual changes and the rows written at creation keep theirs.
ENGINE_SOURCE = Source.ENGINE.value


# --- the timeline (pure) ----------------------------------------------------------------------


def daily_ticks(after: datetime, until: datetime) -> list[datetime]:
    """Every midnight UTC strictly after `after` and at or before `until`."""
    if until <= after:
        return []
    first = datetime.combine(after.astimezone(UTC).date(), TICK_TIME)
    if first <= after:
        first += DAY
    return [first + DAY * n for n in range((until - first) // DAY + 1)] if first <= until else []


def catch_up_times(account: AccountSnapshot, created_at: datetime, until: datetime) -> list[datetime]:
    """The ticks an account missed since its last evaluation (or its creation), up to `until`."""
    last = EngineState.from_json(account.engine_state).last_evaluated_at
    return daily_ticks(last or created_at, until)


def account_timeline(created_at: datetime, session_ends: Sequence[datetime], until: datetime) -> list[datetime]:
    """Every evaluation of an account from its creation to `until`, in the order the incremental path makes
    them: at one instant a tick comes before a session end, and each session end evaluates once."""
    ticks = daily_ticks(created_at, until)
    timeline: list[datetime] = []
    i = 0
    for end in sorted(at for at in session_ends if at <= until):  # merged into the ticks, already in order
        while i < len(ticks) and ticks[i] <= end:
            timeline.append(ticks[i])
            i += 1
        timeline.append(end)
    timeline += ticks[i:]
    return timeline


def carry(account: AccountSnapshot, result: Evaluation) -> AccountSnapshot:
    """The snapshot the next evaluation starts from (what `store.apply_evaluation` writes back)."""
    expired_tier = account.tier_source is Source.MANUAL and result.tier_source is Source.ENGINE
    expired_phase = account.phase_source is Source.MANUAL and result.phase_source is Source.ENGINE
    return account.but(
        tier=result.tier,
        tier_source=result.tier_source,
        tier_override_expires_at=None if expired_tier else account.tier_override_expires_at,
        phase=result.phase,
        phase_source=result.phase_source,
        phase_override_expires_at=None if expired_phase else account.phase_override_expires_at,
        health=result.health,
        engine_state=result.state,
    )


def replay(
    account: AccountSnapshot,
    scores: Sequence[ScoredSession],
    times: Sequence[datetime],
    config: EngagementConfig,
    *,
    skip_quiet: bool = True,
) -> tuple[AccountSnapshot, list[tuple[datetime, Evaluation]]]:
    """The engine alone over a timeline, no database: the final snapshot and each evaluation made.

    With `skip_quiet`, daily ticks inside a quiet stretch (`engine.quiet_until`) are not evaluated:
    they would change nothing but `last_evaluated_at`, which is carried forward as if they had been.
    Session ends are always evaluated (they bring new scores). The outcome is the same either way
    (tests/engagement/test_trust.py replays both); a year of daily ticks costs a few dozen evaluations.
    """
    history = ScoreHistory(scores, config)
    ends = set(history.session_ends)
    results = []
    quiet: datetime | None = None
    skipped: datetime | None = None
    for at in times:
        if quiet is not None and at < quiet and at not in ends:
            skipped = at
            continue
        if skipped is not None:
            account = _evaluated_at(account, skipped)
            skipped = None
        result = evaluate(account, history, at, config)
        results.append((at, result))
        quiet = quiet_until(account, result, history, at, config) if skip_quiet else None
        account = carry(account, result)
    if skipped is not None:
        account = _evaluated_at(account, skipped)
    return account, results


def _evaluated_at(account: AccountSnapshot, at: datetime) -> AccountSnapshot:
    """The snapshot as the skipped evaluations would have left it: only `last_evaluated_at` moves."""
    state = EngineState.from_json(account.engine_state)
    last = state.last_evaluated_at
    return account.but(engine_state=state.but(last_evaluated_at=at if last is None else max(last, at)))


# --- against the database ---------------------------------------------------------------------


def evaluate_through(
    db: AsyncSession,
    account: Account,
    scores: Sequence[ScoredSession],
    times: Sequence[datetime],
    config: EngagementConfig,
) -> list[tuple[datetime, Evaluation]]:
    """Evaluates the account at each time in turn, writing every outcome back (fields and history)."""
    results = []
    for at in times:
        result = evaluate(store.snapshot(account), scores, at, config)
        store.apply_evaluation(db, account, result, at)
        results.append((at, result))
    return results


# Core tables for the bulk writes (typed: the declarative `__table__` is only a FromClause to mypy).
_ACCOUNTS = cast(Table, Account.__table__)
_HISTORY = cast(Table, AccountHistory.__table__)
_SCORES = cast(Table, SessionScore.__table__)
# What the recompute reads of an account (a row of these columns is what `row: Any` below stands for): plain rows, not ORM objects (a thousand accounts, a few columns).
_ACCOUNT_COLUMNS = (
    Account.id, Account.mrr, Account.signed_at, Account.created_at, Account.tier, Account.tier_source,
    Account.tier_override_expires_at, Account.phase, Account.phase_source, Account.phase_override_expires_at,
)


def _reset(row: Any, config: EngagementConfig) -> AccountSnapshot:
    """The snapshot of the account as `reset_account` leaves it (what the replay starts from)."""
    ltv = lifetime_value(row.mrr, config.gross_margin, config.monthly_churn)
    tier_source, phase_source = Source(row.tier_source), Source(row.phase_source)
    return AccountSnapshot(
        id=row.id,
        mrr=row.mrr,
        signed_at=row.signed_at,
        tier=Tier(row.tier) if tier_source is Source.MANUAL else tier_for_ltv(ltv, config.high_band, config.low_band),
        phase=Phase(row.phase) if phase_source is Source.MANUAL else Phase.ONBOARDING,
        health=Health.NEUTRAL,
        tier_source=tier_source,
        tier_override_expires_at=row.tier_override_expires_at,
        phase_source=phase_source,
        phase_override_expires_at=row.phase_override_expires_at,
        engine_state={},
    )


def _final_values(
    row: Any, fresh: AccountSnapshot, final: AccountSnapshot, last: Evaluation | None, config: EngagementConfig
) -> dict[str, Any]:
    """The account's columns after the replay: what `store.apply_evaluation` would have left after the
    last evaluation (with the carried engine state), or the reset values if nothing was evaluated."""
    values: dict[str, Any] = {"b_id": row.id}
    if last is None:
        values.update(
            tier=fresh.tier.value, phase=fresh.phase.value, health=Health.NEUTRAL.value, engagement=None,
            ltv=lifetime_value(row.mrr, config.gross_margin, config.monthly_churn),
            engine_state={},
        )
        return values
    for name in ("tier", "phase"):
        source: Source = getattr(last, f"{name}_source")
        if getattr(row, f"{name}_source") == Source.MANUAL and source is Source.ENGINE:
            # The override expired and the engine took over: nothing is pinned any more.
            values[f"{name}_override_reason"] = None
            values[f"{name}_override_expires_at"] = None
        values[f"{name}_source"] = source.value
    values.update(
        tier=last.tier.value, phase=last.phase.value, health=last.health.value, engagement=last.engagement,
        ltv=last.ltv, engine_state=EngineState.from_json(final.engine_state).to_json(),
    )
    return values


def _history_row(account_id: str, change: Change, at: datetime) -> dict[str, Any]:
    """One engine history row, as `accounts.store.record_change` would add it."""
    return {
        "account_id": account_id, "field": change.field, "old": change.old, "new": change.new,
        "source": ENGINE_SOURCE, "rule": change.rule, "reason": change.reason, "numbers": dict(change.numbers),
        "evidence": list(change.evidence), "config_version": change.config_version, "actor": None, "at": at,
    }


async def _write_accounts(db: AsyncSession, updates: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
    """Every account's new columns and every engine history row, in a few executemany statements (Core,
    not the unit of work: the ORM's per-object bookkeeping was most of the cost). Accounts the caller's
    session already holds are refreshed so that they do not show the values from before."""
    accounts = _ACCOUNTS
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in updates:
        by_columns.setdefault(tuple(values), []).append(values)
    for group in by_columns.values():
        # `updated_at` is set by the column's onupdate, as the ORM would.
        await db.execute(update(accounts).where(accounts.c.id == bindparam("b_id")), group)
    for start in range(0, len(history), 5000):
        await db.execute(insert(_HISTORY), history[start : start + 5000])
    held = [obj for obj in db.identity_map.values() if isinstance(obj, Account)]
    for obj in held:
        await db.refresh(obj)


def reset_account(account: Account, config: EngagementConfig) -> None:
    """Back to what `create_account` made: the LTV band, onboarding, no engine memory. Manual overrides
    that still hold are kept (they are decisions, not derived state)."""
    account.ltv = lifetime_value(account.mrr, config.gross_margin, config.monthly_churn)
    if account.tier_source != Source.MANUAL:
        account.tier = tier_for_ltv(account.ltv, config.high_band, config.low_band).value
    if account.phase_source != Source.MANUAL:
        account.phase = Phase.ONBOARDING.value
    account.health = Health.NEUTRAL.value
    account.engagement = None
    account.engine_state = {}


@dataclass
class RecomputeStats:
    accounts: int = 0
    sessions: int = 0
    events: int = 0
    scores: int = 0
    evaluations: int = 0
    changes: int = 0
    seconds: float = 0.0


Progress = Callable[[int], Any]


async def recompute(
    db: AsyncSession,
    config: EngagementConfig,
    now: datetime,
    account_id: str | None = None,
    progress: Callable[[str, int], Progress] | None = None,
) -> RecomputeStats:
    """Rebuilds session scores, then every account's tier, phase, health and engine history, from the log.

    Sessions are scored in the order they ended; then each account is reset and evaluated over its
    timeline up to `now`. Engine history rows are replaced; manual and creation rows are kept. Nothing is
    announced: a rebuild is not news (no webhooks, no automations). Runs in the caller's transaction.
    """
    started = clock.perf_counter()
    stats = RecomputeStats()
    session_query = select(LiveSession).where(LiveSession.status == SessionStatus.ENDED.value)
    if account_id is not None:
        await store_account(db, account_id)
        theirs = select(Invitation.session_id).join(Contact, Contact.id == Invitation.contact_id).where(
            Contact.account_id == account_id
        )
        session_query = session_query.where(LiveSession.id.in_(theirs))
    scored: list[dict[str, Any]] = []
    if account_id is None:
        scored = await _score_everything(db, config, now, stats, progress)
    else:
        sessions = (await db.execute(session_query)).scalars().all()
        sessions = sorted(sessions, key=lambda s: (s.ended_at or s.starts_at, s.id))
        tick = progress("sessions", len(sessions)) if progress else None
        for session in sessions:
            events = await store.session_events(db, session.id)
            invited, known = await store.session_people(db, session.id, events)
            info = store.session_info(session)
            report = attendance_report(info, events, invited, known, session.ended_at or now, config)
            await store.replace_scores(db, report, account_id)
            stats.sessions += 1
            stats.events += len(events)
            stats.scores += sum(1 for r in report.rows if r.contact_id is not None and r.account_id is not None)
            if tick:
                tick(1)
        await db.flush()

    account_query = select(*_ACCOUNT_COLUMNS).order_by(Account.created_at, Account.id)
    if account_id is not None:
        account_query = account_query.where(Account.id == account_id)
    accounts = (await db.execute(account_query)).all()
    tick = progress("accounts", len(accounts)) if progress else None
    engine_rows = and_(
        AccountHistory.source == ENGINE_SOURCE, AccountHistory.actor.is_(None), AccountHistory.old.is_not(None)
    )
    history_query = delete(AccountHistory).where(engine_rows)
    if account_id is not None:
        history_query = history_query.where(AccountHistory.account_id == account_id)
    await db.execute(history_query)
    ids = [row.id for row in accounts]
    if account_id is None:
        # Every score was just computed and written: take them from memory rather than read them back.
        all_scores = await store.with_replays(db, _scored(scored), ids)
    else:
        all_scores = await store.scores_of(db, ids)
    history: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in accounts:
        scores = all_scores.get(row.id, [])
        fresh = _reset(row, config)
        times = account_timeline(row.created_at, [s.ended_at for s in _per_session(scores)], now)
        # The engine replays in memory; only the changes and the final state are written.
        final, results = replay(fresh, scores, times, config)
        for at, result in results:
            history.extend(_history_row(row.id, change, at) for change in result.changes)
        updates.append(_final_values(row, fresh, final, results[-1][1] if results else None, config))
        stats.accounts += 1
        stats.evaluations += len(times)
        stats.changes += sum(len(r.changes) for _, r in results)
        if tick:
            tick(1)
    await _write_accounts(db, updates, history)
    stats.seconds = clock.perf_counter() - started
    return stats


async def _score_everything(
    db: AsyncSession, config: EngagementConfig, now: datetime, stats: RecomputeStats,
    progress: Callable[[str, int], Progress] | None,
) -> list[dict[str, Any]]:
    """Every ended session rescored from the log: read in a few queries, written in bulk. Returns the rows
    written, in the order written."""
    from live.engagement.whatif import load_world, score_world

    world = await load_world(db)
    tick = progress("sessions", len(world.sessions)) if progress else None
    await db.execute(delete(SessionScore))
    stats.events += sum(len(s.events) for s in world.sessions)
    rows: list[dict[str, Any]] = []
    for report in score_world(world, config, now):
        for row in report.rows:
            if row.contact_id is None or row.account_id is None or row.score is None:
                continue
            rows.append({
                "session_id": report.session.id, "contact_id": row.contact_id, "account_id": row.account_id,
                "kind": report.session.kind, "ended_at": report.ended_at, "score": row.score,
                "attended": row.attended, "components": row.components, "config_version": report.config_version,
            })
        stats.sessions += 1
        if tick:
            tick(1)
    for start in range(0, len(rows), 5000):
        await db.execute(insert(_SCORES), rows[start : start + 5000])
    stats.scores += len(rows)
    return rows


def _scored(rows: Sequence[dict[str, Any]]) -> dict[str, list[ScoredSession]]:
    """The written score rows as `store.scores_of` reads them back: per account, by end (the sort is stable,
    so rows ending together keep the order they were written in, which is their id order)."""
    out: dict[str, list[ScoredSession]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["ended_at"]):
        out[r["account_id"]].append(
            ScoredSession(r["session_id"], r["contact_id"], r["kind"], r["ended_at"], r["score"], r["attended"])
        )
    return out


def _per_session(scores: Sequence[ScoredSession]) -> list[ScoredSession]:
    """One score per session (the account is evaluated once per session end, whatever its contacts)."""
    seen: dict[str, ScoredSession] = {}
    for s in scores:
        seen.setdefault(s.session_id, s)
    return list(seen.values())


async def store_account(db: AsyncSession, account_id: str) -> Account:
    from live.accounts.store import get_account

    return await get_account(db, account_id)


async def all_account_scores(db: AsyncSession) -> dict[str, list[ScoredSession]]:
    ids = (await db.execute(select(Account.id))).scalars().all()
    return await store.scores_of(db, ids)


async def recompute_cli(settings: Settings, account_id: str | None) -> None:
    """`live scores recompute [--account ID]`, with a progress bar per stage on stderr."""
    from tqdm import tqdm

    from live.db.engine import create_engine, session_factory, upgrade

    if settings.is_sqlite:
        await upgrade(settings.database_url)
    from live.engagement.whatif import latest_config

    engine = create_engine(settings.database_url)
    bars: list[Any] = []

    def progress(stage: str, total: int) -> Progress:
        bar = tqdm(total=total, desc=stage, unit=stage.rstrip("s"), file=sys.stderr, leave=True)
        bars.append(bar)
        return bar.update  # type: ignore[no-any-return]

    try:
        async with session_factory(engine)() as db:
            # The newest applied configuration version; LIVE_ENGAGEMENT only before there is one.
            config = await latest_config(db, EngagementConfig().with_overrides(settings.engagement))
            stats = await recompute(db, config, datetime.now(UTC), account_id, progress)
            await db.commit()
    finally:
        for bar in bars:
            bar.close()
        await engine.dispose()
    print(
        f"recomputed {stats.sessions} sessions ({stats.scores} scores) and {stats.accounts} accounts "
        f"({stats.evaluations} evaluations, {stats.changes} changes) in {stats.seconds:.1f} s "
        f"with configuration {config.version}"
    )
