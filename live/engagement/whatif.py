"""Configuration versions and the what-if: which accounts a new configuration would move, replayed over
the whole event log in memory, before anyone applies it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts.model import Health, Phase, Source, Tier, lifetime_value, tier_for_ltv
from live.db.tables import Account, Contact, EngagementConfigVersion, Event, Invitation, LiveSession
from live.engagement.attendance import PersonAttendance, SessionWindow, derive_attendance, session_window
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot
from live.engagement.model import ScoredSession
from live.engagement.recompute import account_timeline, replay
from live.engagement.report import AttendanceReport, Person, SessionInfo, report_from_attendance
from live.events.model import EventType, LogEvent
from live.sessions.model import SessionStatus

# --- configuration versions -------------------------------------------------------------------


async def latest_config(db: AsyncSession, default: EngagementConfig) -> EngagementConfig:
    """The newest applied configuration, or `default` (from LIVE_ENGAGEMENT) before any was applied."""
    row = (
        await db.execute(select(EngagementConfigVersion).order_by(EngagementConfigVersion.id.desc()).limit(1))
    ).scalar_one_or_none()
    return default if row is None else EngagementConfig().with_overrides(dict(row.values))


async def save_config(db: AsyncSession, config: EngagementConfig, reason: str, actor: str | None) -> None:
    db.add(EngagementConfigVersion(version=config.version, values=config.values(), reason=reason, actor=actor))


# --- the log, loaded once ----------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedSession:
    """An ended session with its attendance derived (which no weight or threshold changes)."""

    info: SessionInfo
    events: list[LogEvent]
    window: SessionWindow
    present: list[PersonAttendance]
    invited: dict[str, Person]


@dataclass(frozen=True)
class World:
    sessions: list[LoggedSession]
    accounts: list[AccountSnapshot]
    created_at: dict[str, datetime]
    current: dict[str, dict[str, str]]  # account id -> {"tier", "phase", "health"} as stored now
    contacts: dict[str, Person]  # every contact by id: names uninvited people the log shows present


# A type by its stored name, without an enum call per event (a year's log is ~100,000 of them).
_EVENT_TYPES: dict[str, EventType] = {kind.value: kind for kind in EventType}


async def load_world(db: AsyncSession) -> World:
    """Every ended session's log and invitations and every account, in a handful of queries."""
    sessions = (
        await db.execute(select(LiveSession).where(LiveSession.status == SessionStatus.ENDED.value))
    ).scalars().all()
    by_session: dict[str, list[LogEvent]] = defaultdict(list)
    rows = await db.execute(
        select(Event.session_id, Event.type, Event.at, Event.participant_id, Event.data).order_by(Event.id)
    )
    for session_id, kind, at, participant_id, data in rows.tuples():
        event_type = _EVENT_TYPES.get(kind)
        if event_type is None:
            continue  # a type from a newer release
        # The JSON column gives a fresh dict per row: no copy needed.
        by_session[session_id].append(
            LogEvent(session_id, event_type, at, participant_id, data if type(data) is dict else dict(data or {}))
        )
    invited: dict[str, dict[str, Person]] = defaultdict(dict)
    people = await db.execute(
        select(Invitation.session_id, Contact.id, Contact.name, Contact.email, Contact.account_id).join(
            Contact, Contact.id == Invitation.contact_id
        )
    )
    for session_id, contact_id, name, email, account_id in people.tuples():
        invited[session_id][contact_id] = Person(name, email, account_id)
    logged = []
    for s in sorted(sessions, key=lambda s: (s.ended_at or s.starts_at, s.id)):
        events = by_session.get(s.id, [])
        end = s.ended_at or s.starts_at
        info = SessionInfo(s.id, s.kind, s.title, s.starts_at, s.duration_minutes, s.status, s.ended_at)
        window = session_window(events, s.starts_at, s.duration_minutes, end)
        logged.append(LoggedSession(info, events, window, derive_attendance(events, end), invited.get(s.id, {})))
    accounts = (await db.execute(select(Account).order_by(Account.created_at, Account.id))).scalars().all()
    contacts = await db.execute(select(Contact.id, Contact.name, Contact.email, Contact.account_id))
    return World(
        contacts={cid: Person(name, email, account_id) for cid, name, email, account_id in contacts.tuples()},
        sessions=logged,
        accounts=[_fresh(a) for a in accounts],
        created_at={a.id: a.created_at for a in accounts},
        current={a.id: {"tier": a.tier, "phase": a.phase, "health": a.health} for a in accounts},
    )


def _fresh(account: Account) -> AccountSnapshot:
    """The account as `recompute.reset_account` leaves it, band computed later per configuration."""
    return AccountSnapshot(
        id=account.id,
        mrr=account.mrr,
        signed_at=account.signed_at,
        tier=Tier(account.tier),
        phase=Phase(account.phase),
        tier_source=Source(account.tier_source),
        tier_override_expires_at=account.tier_override_expires_at,
        phase_source=Source(account.phase_source),
        phase_override_expires_at=account.phase_override_expires_at,
        engine_state={},
    )


# --- the replay (pure) ------------------------------------------------------------------------


def replay_world(world: World, config: EngagementConfig, now: datetime) -> dict[str, dict[str, str]]:
    """Every account's tier, phase and health after scoring the whole log and replaying every
    account's timeline under `config`, as `live scores recompute` would leave them."""
    scores: dict[str, list[ScoredSession]] = defaultdict(list)
    for report in score_world(world, config, now):
        for row in report.rows:
            if row.contact_id is not None and row.account_id is not None and row.score is not None:
                scores[row.account_id].append(
                    ScoredSession(report.session.id, row.contact_id, report.session.kind, report.ended_at, row.score,
                                  row.attended)
                )
    out = {}
    for start in world.accounts:
        ltv = lifetime_value(start.mrr, config.gross_margin, config.monthly_churn)
        band = tier_for_ltv(ltv, config.high_band, config.low_band)
        account = start.but(
            tier=start.tier if start.tier_source is Source.MANUAL else band,
            phase=start.phase if start.phase_source is Source.MANUAL else Phase.ONBOARDING,
            health=Health.NEUTRAL,
        )
        mine = scores.get(start.id, [])
        ends = sorted({s.ended_at for s in mine})
        final, _ = replay(account, mine, account_timeline(world.created_at[start.id], ends, now), config)
        out[start.id] = {"tier": final.tier.value, "phase": final.phase.value, "health": final.health.value}
    return out


def score_world(world: World, config: EngagementConfig, now: datetime) -> list[AttendanceReport]:
    """Every ended session's report under `config`, in the order they ended."""
    return [
        report_from_attendance(
            logged.info, logged.events, logged.window, logged.present, logged.invited, world.contacts, now, config
        )
        for logged in world.sessions
    ]


def preview(world: World, config: EngagementConfig, now: datetime) -> dict[str, Any]:
    """`{changes: [{account_id, field, from, to}], accounts: N}`: what applying `config` would change
    against what the accounts show now (N: how many accounts would change at all)."""
    after = replay_world(world, config, now)
    changes = []
    for account_id, values in after.items():
        before = world.current[account_id]
        for field in ("tier", "phase", "health"):
            if before[field] != values[field]:
                changes.append({"account_id": account_id, "field": field, "from": before[field], "to": values[field]})
    return {"changes": changes, "accounts": len({c["account_id"] for c in changes})}
