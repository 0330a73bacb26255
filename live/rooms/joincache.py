"""What a join storm would otherwise read thousands of times, kept per process for a few seconds.

When a webinar starts, thousands of invited attendees connect within seconds, and each one's join read
the same session row and one invitation from the database, and ran the same "is the room's cache
loaded?" join hooks. Here one process reads a session's row and all its invitations (token -> contact)
in one go on its first join, and answers the following joins from memory; the join hooks run once per
session instead of once per connection.

Staleness is bounded twice:
- every change a process hears about a session drops what it holds for it: a status change
  (`session.start/end`, published on the room state's status channel), a cancellation, a
  reschedule or a withdrawn invitation (`Presence.announce_change`, which the bus subscribers in
  `live.app` call on `SessionCancelled`, `SessionRescheduled` and `ContactUninvited`); losing the
  status channel (Redis restarted) drops everything, and nothing is cached until it is back;
- whatever else changes (a row edited by hand) is seen after at most `JOIN_CACHE_TTL` seconds.
A join token the cache does not know (an invitation made since) is not refused here: the namespace
then asks the database, as without the cache, and every refusal keeps its precise code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from live.chat.model import without_bidi_controls
from live.db.tables import Contact, Invitation, LiveSession
from live.domain_events import ContactUninvited, SessionCancelled, SessionRescheduled
from live.rooms.presence import Presence
from live.typedefs import ROOM_STATE

# Seconds a process trusts what it read about a session when it heard of no change.
JOIN_CACHE_TTL = 5.0
# Sessions with more invitations than this are not preloaded (each join then reads its own).
MAX_PRELOADED = 50_000


@dataclass(frozen=True)
class Invitee:
    contact_id: str
    name: str  # as shown in the room (direction controls removed)


@dataclass(frozen=True)
class SessionFacts:
    """A session's row as a join needs it, and its invitations by join token (empty when too many)."""

    info: dict[str, Any]  # {id, kind, title, host_id}, as `Joining.session`
    status: str
    invitees: dict[str, Invitee] = field(default_factory=dict)


async def load_facts(db: AsyncSession, session_id: str) -> SessionFacts | None:
    """Two queries: the session, then its invitations with their contacts' names (None: no such session)."""
    row = (
        await db.execute(
            select(LiveSession.id, LiveSession.kind, LiveSession.title, LiveSession.host_id, LiveSession.status).where(
                LiveSession.id == session_id
            )
        )
    ).first()
    if row is None:
        return None
    sid, kind, title, host_id, status = row
    invited = (
        await db.execute(
            select(Invitation.token, Contact.id, Contact.name)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(Invitation.session_id == session_id)
            .limit(MAX_PRELOADED + 1)
        )
    ).all()
    invitees = (
        {token: Invitee(cid, without_bidi_controls(name)) for token, cid, name in invited}
        if len(invited) <= MAX_PRELOADED
        else {}
    )
    return SessionFacts({"id": sid, "kind": kind, "title": title, "host_id": host_id}, status, invitees)


class JoinCache:
    """Per-process `SessionFacts` and "join hooks ran" marks, dropped on every change heard (see the module docstring)."""

    def __init__(self, state: Presence, ttl: float = JOIN_CACHE_TTL) -> None:
        self._state = state
        self.ttl = ttl
        self._facts: dict[str, tuple[float, SessionFacts]] = {}
        self._hooks_ran: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Moves on every change heard, so a read that raced a change is not kept.
        self._epoch = 0
        state.change_listeners.append(self.forget)

    def forget(self, session_id: str | None) -> None:
        self._epoch += 1
        if session_id is None:
            self._facts.clear()
            self._hooks_ran.clear()
        else:
            self._facts.pop(session_id, None)
            self._hooks_ran.pop(session_id, None)

    async def facts(
        self, session_id: str, sessions: async_sessionmaker[AsyncSession]
    ) -> SessionFacts | None:
        """The session's facts, read from the database at most once per process while they stay fresh (None:
        no such session, or nothing may be cached now: the join then reads its own invitation, as before).

        Concurrent joins of one session wait for the first one's read rather than each reading."""
        if not self._state.caching:
            return None
        cached = self._cached_facts(session_id)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            cached = self._cached_facts(session_id)
            if cached is not None:
                return cached
            epoch = self._epoch
            facts = await self._read(session_id, sessions)
            if facts is not None and epoch == self._epoch and self._state.caching:
                self._facts[session_id] = (time.monotonic() + self.ttl, facts)
        if not lock.locked():
            self._locks.pop(session_id, None)
        return facts

    @staticmethod
    async def _read(session_id: str, sessions: async_sessionmaker[AsyncSession]) -> SessionFacts | None:
        async with sessions() as db:
            return await load_facts(db, session_id)

    async def run_hooks(self, session_id: str, run: Callable[[], Awaitable[None]]) -> None:
        """Runs the join hooks (idempotent "is the room's cache loaded" checks) unless they ran here since
        the last change heard and within the TTL."""
        if self._state.caching and self._hooks_ran.get(session_id, 0.0) > time.monotonic():
            return
        epoch = self._epoch
        await run()
        if epoch == self._epoch and self._state.caching:
            self._hooks_ran[session_id] = time.monotonic() + self.ttl

    def _cached_facts(self, session_id: str) -> SessionFacts | None:
        entry = self._facts.get(session_id)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]


JOIN_CACHE: web.AppKey[JoinCache] = web.AppKey("join_cache", JoinCache)


async def session_changed(app: web.Application, event: SessionCancelled | SessionRescheduled | ContactUninvited) -> None:
    """Bus subscriber: no process answers a join from what it cached before this change."""
    state = app.get(ROOM_STATE)
    if state is not None:
        await state.announce_change(event.session_id)
