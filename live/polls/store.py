"""Polls in the database: drafts, opening and closing, and reading polls back with their votes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.tables import Contact, LiveSession, Poll, PollTally, PollVote, User, new_id
from live.errors import Conflict, NotFound
from live.polls.model import Ballots, PollSpec, PollStatus


def spec_of(poll: Poll) -> PollSpec:
    return PollSpec(poll.question, tuple(str(o) for o in poll.options), poll.multiple, poll.anonymous)


async def session_or_404(db: AsyncSession, session_id: str) -> LiveSession:
    session = await db.get(LiveSession, session_id)
    if session is None:
        raise NotFound(f"Session {session_id!r} does not exist.")
    return session


async def create_poll(
    db: AsyncSession,
    session_id: str,
    spec: PollSpec,
    *,
    poll_id: str | None = None,
    status: PollStatus = PollStatus.DRAFT,
    at: datetime | None = None,
) -> Poll:
    """A draft, or (from the room) a poll opened at once; an open poll gets its zeroed counters."""
    poll = Poll(
        id=poll_id or new_id(),
        session_id=session_id,
        question=spec.question,
        options=list(spec.options),
        multiple=spec.multiple,
        anonymous=spec.anonymous,
        status=status.value,
        opened_at=at if status is PollStatus.OPEN else None,
    )
    db.add(poll)
    await db.flush()
    if status is PollStatus.OPEN:
        _add_counters(db, poll.id, len(spec.options))
    return poll


def _add_counters(db: AsyncSession, poll_id: str, options: int) -> None:
    db.add_all(PollTally(poll_id=poll_id, option=i, count=0) for i in range(options))


async def poll_of_session(db: AsyncSession, session_id: str, poll_id: str) -> Poll:
    poll = await db.get(Poll, poll_id)
    if poll is None or poll.session_id != session_id:
        raise NotFound(f"Poll {poll_id!r} is not a poll of this session.", code="unknown_poll")
    return poll


async def mark_open(db: AsyncSession, poll: Poll, at: datetime) -> None:
    """draft -> open with a conditional UPDATE, so two hosts launching one draft cannot both win."""
    PollStatus(poll.status).transition(PollStatus.OPEN)
    result = await db.execute(
        update(Poll).where(Poll.id == poll.id, Poll.status == PollStatus.DRAFT.value).values(status="open", opened_at=at)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise Conflict(f"Poll {poll.id!r} was launched already.", code="poll_open")
    _add_counters(db, poll.id, len(poll.options))


async def mark_closed(db: AsyncSession, poll_id: str, at: datetime) -> None:
    await db.execute(update(Poll).where(Poll.id == poll_id, Poll.status == "open").values(status="closed", closed_at=at))


async def open_poll_of(db: AsyncSession, session_id: str) -> Poll | None:
    query = select(Poll).where(Poll.session_id == session_id, Poll.status == "open").order_by(Poll.opened_at.desc())
    return (await db.execute(query)).scalars().first()


async def ballots_of(db: AsyncSession, poll: Poll) -> Ballots:
    """The stored votes and counters of a poll, as the board holds them (to restore an open poll)."""
    votes = (await db.execute(select(PollVote).where(PollVote.poll_id == poll.id))).scalars().all()
    counts = [0] * len(poll.options)
    for tally in (await db.execute(select(PollTally).where(PollTally.poll_id == poll.id))).scalars():
        if 0 <= tally.option < len(counts):
            counts[tally.option] = tally.count
    choices = {v.participant_id: (None if v.choices is None else tuple(int(c) for c in v.choices)) for v in votes}
    return Ballots(len(poll.options), poll.anonymous, counts, choices)


@dataclass(frozen=True)
class StoredPoll:
    poll: Poll
    counts: list[int]
    votes: dict[str, tuple[int, ...] | None]  # participant id -> choices (None: anonymous)


async def polls_of_session(db: AsyncSession, session_id: str) -> list[StoredPoll]:
    polls = (
        (await db.execute(select(Poll).where(Poll.session_id == session_id).order_by(Poll.created_at, Poll.id)))
        .scalars()
        .all()
    )
    ids = [p.id for p in polls]
    counts = {p.id: [0] * len(p.options) for p in polls}
    votes: dict[str, dict[str, tuple[int, ...] | None]] = {p.id: {} for p in polls}
    if ids:
        for tally in (await db.execute(select(PollTally).where(PollTally.poll_id.in_(ids)))).scalars():
            if 0 <= tally.option < len(counts[tally.poll_id]):
                counts[tally.poll_id][tally.option] = tally.count
        rows = (await db.execute(select(PollVote).where(PollVote.poll_id.in_(ids)).order_by(PollVote.id))).scalars()
        for vote in rows:
            votes[vote.poll_id][vote.participant_id] = None if vote.choices is None else tuple(vote.choices)
    return [StoredPoll(p, counts[p.id], votes[p.id]) for p in polls]


@dataclass(frozen=True)
class Voter:
    contact_id: str | None
    name: str


async def voters(db: AsyncSession, participant_ids: Sequence[str]) -> dict[str, Voter]:
    """Who is behind each participant id (`c_<contact>` or `u_<user>`), for the polls API."""
    contact_ids = [p[2:] for p in participant_ids if p.startswith("c_")]
    user_ids = [p[2:] for p in participant_ids if p.startswith("u_")]
    found: dict[str, Voter] = {}
    if contact_ids:
        for contact in (await db.execute(select(Contact).where(Contact.id.in_(contact_ids)))).scalars():
            found[f"c_{contact.id}"] = Voter(contact.id, contact.name)
    if user_ids:
        for user in (await db.execute(select(User).where(User.id.in_(user_ids)))).scalars():
            found[f"u_{user.id}"] = Voter(None, user.name or user.email)
    return found
