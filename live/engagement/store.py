"""The engagement loop's queries: a session's log and people, session scores, account snapshots and the
write-back of an evaluation (account fields and one history row per change)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts.model import Health, Phase, Source, Tier
from live.accounts.store import record_change
from live.db.tables import (
    Account,
    AccountHistory,
    Contact,
    Event,
    Invitation,
    LiveSession,
    Poll,
    PollTally,
    PollVote,
    SessionScore,
    User,
)
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot, Evaluation
from live.engagement.model import ScoredSession
from live.engagement.report import AttendanceReport, Person, SessionInfo, attendance_report
from live.events.model import EventType, LogEvent
from live.recordings.store import on_demand_scores
from live.sessions.model import SessionStatus


async def session_events(db: AsyncSession, session_id: str) -> list[LogEvent]:
    rows = (await db.execute(select(Event).where(Event.session_id == session_id).order_by(Event.id))).scalars()
    events = []
    for row in rows:
        try:
            kind = EventType(row.type)
        except ValueError:
            continue  # a type from a newer release: nothing here derives from it
        events.append(LogEvent(row.session_id, kind, row.at, row.participant_id, dict(row.data or {})))
    return events


def session_info(session: LiveSession) -> SessionInfo:
    return SessionInfo(
        id=session.id,
        kind=session.kind,
        title=session.title,
        starts_at=session.starts_at,
        duration_minutes=session.duration_minutes,
        status=session.status,
        ended_at=session.ended_at,
    )


async def session_people(
    db: AsyncSession, session_id: str, events: Sequence[LogEvent]
) -> tuple[dict[str, Person], dict[str, Person]]:
    """(invited contacts by contact id, everybody else the log names: contacts by id, staff by participant id)."""
    rows = await db.execute(
        select(Contact).join(Invitation, Invitation.contact_id == Contact.id).where(Invitation.session_id == session_id)
    )
    invited = {c.id: Person(c.name, c.email, c.account_id) for c in rows.scalars()}
    ids = {e.participant_id for e in events if e.participant_id}
    contact_ids = {p[2:] for p in ids if p.startswith("c_")} - set(invited)
    user_ids = {p[2:] for p in ids if p.startswith("u_")}
    known: dict[str, Person] = {}
    if contact_ids:
        for c in (await db.execute(select(Contact).where(Contact.id.in_(contact_ids)))).scalars():
            known[c.id] = Person(c.name, c.email, c.account_id)
    if user_ids:
        for u in (await db.execute(select(User).where(User.id.in_(user_ids)))).scalars():
            known[f"u_{u.id}"] = Person(u.name, u.email)
    return invited, known


async def build_report(
    db: AsyncSession, session: LiveSession, now: datetime, config: EngagementConfig
) -> AttendanceReport:
    events = await session_events(db, session.id)
    invited, known = await session_people(db, session.id, events)
    return attendance_report(session_info(session), events, invited, known, now, config)


async def replace_scores(db: AsyncSession, report: AttendanceReport, account_id: str | None = None) -> None:
    """The session's stored scores become the report's (all of them, or one account's)."""
    query = delete(SessionScore).where(SessionScore.session_id == report.session.id)
    if account_id is not None:
        query = query.where(SessionScore.account_id == account_id)
    await db.execute(query)
    for row in report.rows:
        if row.contact_id is None or row.account_id is None or row.score is None:
            continue
        if account_id is not None and row.account_id != account_id:
            continue
        db.add(
            SessionScore(
                session_id=report.session.id,
                contact_id=row.contact_id,
                account_id=row.account_id,
                kind=report.session.kind,
                ended_at=report.ended_at,
                score=row.score,
                attended=row.attended,
                components=row.components,
                config_version=report.config_version,
            )
        )
    await db.flush()


async def claim_scoring(db: AsyncSession, session_id: str, now: datetime) -> bool:
    """Marks an ended session as scored in the caller's transaction; False if another run already has.

    A conditional UPDATE, so of two processes (or a live callback and the restart sweep) only one scores
    and announces a session, even one nobody was invited to."""
    result = await db.execute(
        update(LiveSession)
        .where(LiveSession.id == session_id, LiveSession.scored_at.is_(None))
        .values(scored_at=now)
    )
    return getattr(result, "rowcount", 0) == 1


async def unscored_sessions(db: AsyncSession, ended_before: datetime) -> list[str]:
    """Ended sessions the loop has not scored: a process stopped between the end and the scoring."""
    query = (
        select(LiveSession.id)
        .where(
            LiveSession.status == SessionStatus.ENDED.value,
            LiveSession.scored_at.is_(None),
            LiveSession.ended_at < ended_before,
        )
        .order_by(LiveSession.ended_at)
    )
    return list((await db.execute(query)).scalars())


async def scores_of(db: AsyncSession, account_ids: Iterable[str]) -> dict[str, list[ScoredSession]]:
    ids = list(account_ids)
    out: dict[str, list[ScoredSession]] = defaultdict(list)
    if not ids:
        return out
    # Columns, not ORM objects: a recompute reads every score, and needs neither the components nor tracking.
    rows = await db.execute(
        select(
            SessionScore.account_id, SessionScore.session_id, SessionScore.contact_id, SessionScore.kind,
            SessionScore.ended_at, SessionScore.score, SessionScore.attended,
        )
        .where(SessionScore.account_id.in_(ids))
        .order_by(SessionScore.ended_at, SessionScore.id)
    )
    for account_id, session_id, contact_id, kind, ended_at, score, attended in rows.tuples():
        out[account_id].append(ScoredSession(session_id, contact_id, kind, ended_at, score, attended))
    return await with_replays(db, out, ids)


async def with_replays(
    db: AsyncSession, out: dict[str, list[ScoredSession]], ids: Sequence[str]
) -> dict[str, list[ScoredSession]]:
    """`out` (stored scores per account, by end) with the accounts' replay views added, still by end."""
    # Replays watched by people who did not come count too, as kind `on_demand` (weighted by the config).
    for account_id, replays in (await on_demand_scores(db, ids)).items():
        out[account_id].extend(replays)
        out[account_id].sort(key=lambda scored: scored.ended_at)
    return out


def snapshot(account: Account) -> AccountSnapshot:
    return AccountSnapshot(
        id=account.id,
        mrr=account.mrr,
        signed_at=account.signed_at,
        tier=Tier(account.tier),
        phase=Phase(account.phase),
        health=Health(account.health),
        tier_source=Source(account.tier_source),
        tier_override_expires_at=account.tier_override_expires_at,
        phase_source=Source(account.phase_source),
        phase_override_expires_at=account.phase_override_expires_at,
        engine_state=dict(account.engine_state or {}),
    )


def apply_evaluation(db: AsyncSession, account: Account, evaluation: Evaluation, at: datetime) -> list[AccountHistory]:
    """Writes one evaluation back: the account's fields, and a history row per change, dated `at`."""
    for name in ("tier", "phase"):
        source = getattr(evaluation, f"{name}_source")
        if getattr(account, f"{name}_source") == Source.MANUAL and source is Source.ENGINE:
            # The override expired and the engine took over: nothing is pinned any more.
            setattr(account, f"{name}_override_reason", None)
            setattr(account, f"{name}_override_expires_at", None)
        setattr(account, f"{name}_source", source.value)
    account.tier = evaluation.tier.value
    account.phase = evaluation.phase.value
    account.health = evaluation.health.value
    account.engagement = evaluation.engagement
    account.ltv = evaluation.ltv
    account.engine_state = evaluation.engine_state
    return [
        record_change(
            db,
            account,
            change.field,
            change.old,
            change.new,
            rule=change.rule,
            reason=change.reason,
            source=Source.ENGINE,
            numbers=dict(change.numbers),
            evidence=list(change.evidence),
            config_version=change.config_version,
            at=at,
        )
        for change in evaluation.changes
    ]


async def poll_results(db: AsyncSession, session_id: str, people: dict[str, Person]) -> list[dict[str, Any]]:
    """Each poll with its counts; who voted what only for polls that are not anonymous."""
    polls = (
        await db.execute(select(Poll).where(Poll.session_id == session_id).order_by(Poll.created_at, Poll.id))
    ).scalars().all()
    out = []
    for poll in polls:
        votes = (
            await db.execute(select(PollVote).where(PollVote.poll_id == poll.id).order_by(PollVote.id))
        ).scalars().all()
        options = [str(o) for o in (poll.options or [])]
        counts = [0] * len(options)
        if poll.anonymous:
            for tally in (await db.execute(select(PollTally).where(PollTally.poll_id == poll.id))).scalars():
                if 0 <= tally.option < len(counts):
                    counts[tally.option] = tally.count
        else:
            for vote in votes:
                for choice in vote.choices or []:
                    if isinstance(choice, int) and 0 <= choice < len(counts):
                        counts[choice] += 1
        result: dict[str, Any] = {
            "id": poll.id,
            "question": poll.question,
            "options": options,
            "multiple": poll.multiple,
            "anonymous": poll.anonymous,
            "status": poll.status,
            "opened_at": None if poll.opened_at is None else poll.opened_at.isoformat(),
            "closed_at": None if poll.closed_at is None else poll.closed_at.isoformat(),
            "counts": counts,
            "voters": len(votes),
        }
        if not poll.anonymous:
            result["votes"] = [_vote_json(v, people) for v in votes]
        out.append(result)
    return out


def _vote_json(vote: PollVote, people: dict[str, Person]) -> dict[str, Any]:
    pid = vote.participant_id
    contact_id = pid[2:] if pid.startswith("c_") else None
    who = people.get(contact_id or pid)
    return {
        "participant_id": pid,
        "contact_id": contact_id,
        "name": who.name if who else None,
        "choices": list(vote.choices or []),
    }


async def account_sessions(db: AsyncSession, account_id: str) -> list[dict[str, Any]]:
    """Every session the account's contacts were invited to, newest first, with attendance and best score."""
    rows = await db.execute(
        select(LiveSession, Invitation.contact_id)
        .join(Invitation, Invitation.session_id == LiveSession.id)
        .join(Contact, Contact.id == Invitation.contact_id)
        .where(Contact.account_id == account_id)
    )
    sessions: dict[str, LiveSession] = {}
    invited: dict[str, int] = defaultdict(int)
    for session, _contact_id in rows.tuples():
        sessions[session.id] = session
        invited[session.id] += 1
    scores = (
        await db.execute(select(SessionScore).where(SessionScore.account_id == account_id))
    ).scalars().all()
    best: dict[str, SessionScore] = {}
    for s in scores:
        if s.session_id not in best or s.score > best[s.session_id].score:
            best[s.session_id] = s
    attended = {s.session_id for s in scores if s.attended}
    ordered = sorted(sessions.values(), key=lambda s: s.ended_at or s.starts_at, reverse=True)
    return [
        {
            "id": s.id,
            "title": s.title,
            "kind": s.kind,
            "status": s.status,
            "starts_at": s.starts_at.isoformat(),
            "duration_minutes": s.duration_minutes,
            "started_at": None if s.started_at is None else s.started_at.isoformat(),
            "ended_at": None if s.ended_at is None else s.ended_at.isoformat(),
            "invited_contacts": invited[s.id],
            "attended": (s.id in attended) if s.id in best else None,
            "best_score": round(best[s.id].score, 2) if s.id in best else None,
        }
        for s in ordered
    ]


async def session_titles(db: AsyncSession, session_ids: Iterable[str]) -> dict[str, str]:
    ids = list(set(session_ids))
    if not ids:
        return {}
    rows = await db.execute(select(LiveSession.id, LiveSession.title).where(LiveSession.id.in_(ids)))
    return {sid: title for sid, title in rows.tuples()}


async def history_rows(db: AsyncSession, account_id: str) -> Sequence[AccountHistory]:
    query = select(AccountHistory).where(AccountHistory.account_id == account_id).order_by(AccountHistory.id)
    return (await db.execute(query)).scalars().all()
