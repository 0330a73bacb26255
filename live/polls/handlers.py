"""Socket.IO handlers of polls (`poll.open`, `poll.vote`, `poll.close`), throttled live results and `room.state.poll`.

Who hears what:
- `poll.opened` and `poll.closed` go to everyone in the session.
- `poll.results` (live, throttled) goes to the hosts and co-hosts, and to each attendee once they have
  voted: the room's `staff:{session}` (`live.rooms.dispatch.staff_room`) plus `poll:{session}:{poll}`
  (a voter's connections join it with their first vote, or on arrival if they voted before).

The vote path is O(1) and, with Redis, one round trip: one atomic step on the board (memory or one
Redis Lua script, which also claims the next broadcasts and reads the voter's tabs), an append to the
event log's and the vote writer's queues, and no broadcast of its own. `ResultsBroadcaster` coalesces
votes into at most one `poll.results` per poll per interval across every process, for each audience:
staff every `poll_results_interval`, voters every `poll_voter_results_interval` (a broadcast to
voters costs one send per voter); each audience always gets the state after the last vote (a
trailing broadcast).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from live.db.tables import new_id
from live.domain_events import SessionEnded
from live.events.model import EventType, LogEvent
from live.polls import store
from live.polls.board import MemoryPollBoard, PollBoard, RedisPollBoard
from live.polls.events import PollClosedOut, PollCloseIn, PollOpenedOut, PollOpenIn, PollResultsOut, PollVoteIn
from live.polls.model import PollStatus, Results, check_choices, sees_live_results, vote_delta
from live.polls.writer import POLL_WRITER, poll_writer_ctx
from live.rooms.dispatch import Ctx, EventRegistry, now, session_room, staff_room
from live.rooms.model import ATTENDEES, STAFF, RateKind
from live.rooms.namespace import NAMESPACE
from live.rooms.presence import PresenceKeys
from live.rooms.server_events import send
from live.typedefs import DB, EVENT_WRITER, ROOM_STATE_PARTS, SESSION_STORES, SETTINGS, SIO

log = logging.getLogger(__name__)

# A results broadcast claimed by a process that then died is given up after this many extra seconds.
CLAIM_SLACK = 2.0


def voters_room(session_id: str, poll_id: str) -> str:
    return f"poll:{session_id}:{poll_id}"


@dataclass(frozen=True)
class Audience:
    """Who gets one stream of `poll.results`, and how often at most."""

    name: str
    room: Callable[[str, str], str]  # (session id, poll id) -> Socket.IO room
    interval: float


def audiences(staff_interval: float, voters_interval: float) -> tuple[Audience, ...]:
    return (
        Audience("staff", lambda session_id, poll_id: staff_room(session_id), staff_interval),
        Audience("voters", voters_room, voters_interval),
    )


class ResultsBroadcaster:
    """At most one `poll.results` per interval per poll and audience, across processes, and always one after the last vote.

    A vote asks the board, in its own atomic step, for a claim on each audience's next broadcast
    (`claims()`; a claim is shared by every process). The vote that wins one schedules that broadcast
    one interval later (`claimed()`); later votes see the claim and do nothing more. The broadcast gives
    up the claim *before* reading the counts, so a vote that lost to the claim is always in the counts
    read, or wins a new claim.
    """

    def __init__(self, app: web.Application, board: PollBoard, audiences: Iterable[Audience]) -> None:
        self._app = app
        self._board = board
        self._audiences = {a.name: a for a in audiences}
        self._scheduled: dict[tuple[str, str, str], asyncio.Task[None]] = {}

    def claims(self, session_id: str, poll_id: str, names: Iterable[str] | None = None) -> dict[str, float]:
        """Audience -> claim seconds, for those this process has not already scheduled (it has not read the counts yet)."""
        wanted = self._audiences if names is None else names
        return {
            name: self._audiences[name].interval + CLAIM_SLACK
            for name in wanted
            if (session_id, poll_id, name) not in self._scheduled
        }

    def claimed(self, session_id: str, poll_id: str, names: Iterable[str]) -> None:
        """Schedules the broadcasts whose claims this process won."""
        for name in names:
            key = (session_id, poll_id, name)
            if key not in self._scheduled:
                task = asyncio.create_task(self._broadcast_later(key), name=f"poll-results-{poll_id}-{name}")
                self._scheduled[key] = task

    async def poke(self, session_id: str, poll_id: str, names: Iterable[str] | None = None) -> None:
        """Claims outside a vote (one board call per audience) and schedules what it won, e.g. after more tabs joined."""
        for name, ttl in self.claims(session_id, poll_id, names).items():
            if await self._board.claim_broadcast(session_id, poll_id, name, ttl):
                self.claimed(session_id, poll_id, [name])

    async def _broadcast_later(self, key: tuple[str, str, str]) -> None:
        session_id, poll_id, name = key
        audience = self._audiences[name]
        await asyncio.sleep(audience.interval)
        self._scheduled.pop(key, None)
        try:
            await self._board.release_broadcast(session_id, poll_id, name)
            status, results = await self._board.results(session_id, poll_id)
            if status is PollStatus.OPEN:  # a closed poll's final counts went out with `poll.closed`
                await send(
                    self._app[SIO],
                    PollResultsOut.model_validate(results.public()),
                    to=audience.room(session_id, poll_id),
                    namespace=NAMESPACE,
                )
        except Exception:
            log.exception("%s: could not broadcast results of poll %s to %s", session_id, poll_id, name)

    def cancel(self, session_id: str, poll_id: str) -> None:
        for name in self._audiences:
            task = self._scheduled.pop((session_id, poll_id, name), None)
            if task is not None:
                task.cancel()

    async def close(self) -> None:
        tasks = list(self._scheduled.values())
        self._scheduled.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


POLL_BOARD: web.AppKey[PollBoard] = web.AppKey("poll_board")
BROADCASTER: web.AppKey[ResultsBroadcaster] = web.AppKey("poll_broadcaster")
# Sessions this process has checked for an open poll to restore from the database (see `ensure_loaded`).
_CHECKED: web.AppKey[set[str]] = web.AppKey("polls_checked")


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("poll.open", open_poll, PollOpenIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("poll.vote", vote, PollVoteIn, roles=ATTENDEES, rate=RateKind.VOTE)
    registry.add("poll.close", close_poll, PollCloseIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.on_join.append(ensure_loaded)
    app[ROOM_STATE_PARTS]["poll"] = poll_part
    app[_CHECKED] = set()
    # Torn down in reverse: broadcasts stop and the board closes before the vote writer's last flush.
    app.cleanup_ctx.append(poll_writer_ctx)
    app.cleanup_ctx.append(polls_ctx)


async def polls_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    board: PollBoard = RedisPollBoard(settings.redis_url, PresenceKeys()) if settings.redis_url else MemoryPollBoard()
    app[POLL_BOARD] = board
    app[SESSION_STORES].append(board)
    app[BROADCASTER] = ResultsBroadcaster(
        app, board, audiences(settings.poll_results_interval, settings.poll_voter_results_interval)
    )
    yield
    await app[BROADCASTER].close()
    await board.close_backend()


# --- handlers -------------------------------------------------------------------------------
async def open_poll(ctx: Ctx, body: PollOpenIn) -> dict[str, Any]:
    spec = body.definition()
    board = ctx.app[POLL_BOARD]
    at = now()
    async with ctx.app[DB]() as db:
        draft = None
        if spec is None:
            assert body.poll_id is not None
            draft = await store.poll_of_session(db, ctx.session_id, body.poll_id)
            PollStatus(draft.status).transition(PollStatus.OPEN)
            spec = store.spec_of(draft)
        poll_id = draft.id if draft is not None else new_id()
        await board.open(ctx.session_id, poll_id, spec)  # one open poll per session, atomically
        try:
            if draft is not None:
                await store.mark_open(db, draft, at)
            else:
                await store.create_poll(db, ctx.session_id, spec, poll_id=poll_id, status=PollStatus.OPEN, at=at)
            await db.commit()
        except BaseException:
            await board.close(ctx.session_id, poll_id)  # give the session's slot back
            raise
    ctx.log(EventType.POLL_OPENED, {"poll_id": poll_id}, at=at)
    log.info("%s %s: opened poll %s", ctx.session_id, ctx.me.participant_id, poll_id)
    await ctx.emit(PollOpenedOut.model_validate(spec.public(poll_id)))
    return {"id": poll_id}


async def vote(ctx: Ctx, body: PollVoteIn) -> dict[str, Any]:
    board = ctx.app[POLL_BOARD]
    writer = ctx.app[POLL_WRITER]
    spec = await board.spec(ctx.session_id, body.poll_id)
    choices = check_choices(spec, body.choices)
    writer.ensure_open()
    broadcaster = ctx.app[BROADCASTER]
    # This socket hears results from before its vote is counted, so every broadcast that counts it reaches it.
    room = voters_room(ctx.session_id, body.poll_id)
    entered = not _in_room(ctx, room)
    if entered:
        await ctx.sio.enter_room(ctx.sid, room, namespace=ctx.namespace)
    try:
        cast = await board.vote(
            ctx.session_id,
            body.poll_id,
            ctx.me.participant_id,
            choices,
            spec.anonymous,
            broadcaster.claims(ctx.session_id, body.poll_id),
        )
    except BaseException:
        if entered:
            await ctx.sio.leave_room(ctx.sid, room, namespace=ctx.namespace)
        raise
    broadcaster.claimed(ctx.session_id, body.poll_id, cast.claimed)
    # An anonymous poll's choices go only into counters: never beside the person in a row, event or log.
    ctx.log(EventType.POLL_VOTED, {"poll_id": body.poll_id} | ({} if spec.anonymous else {"choices": list(choices)}))
    writer.record(body.poll_id, ctx.me.participant_id, None if spec.anonymous else choices, vote_delta(cast.previous, choices))
    if cast.first:
        await _join_results(ctx, body.poll_id, cast.tabs)
    return {"poll_id": body.poll_id}


async def close_poll(ctx: Ctx, body: PollCloseIn) -> dict[str, Any]:
    results = await do_close(ctx.app, ctx.session_id, body.poll_id, ctx.me.participant_id)
    return results.public()


async def do_close(app: web.Application, session_id: str, poll_id: str, by: str | None) -> Results:
    """Closes on the board (no vote lands after), records it, then tells everyone the final counts."""
    results = await app[POLL_BOARD].close(session_id, poll_id)
    app[BROADCASTER].cancel(session_id, poll_id)
    at = now()
    async with app[DB]() as db:
        await store.mark_closed(db, poll_id, at)
        await db.commit()
    try:
        await app[POLL_WRITER].flush()  # this process's votes reach the database with the close
    except Exception:
        log.exception("%s: votes of closed poll %s stay queued", session_id, poll_id)
    app[EVENT_WRITER].append(LogEvent(session_id, EventType.POLL_CLOSED, at, by, {"poll_id": poll_id}))
    log.info("%s %s: closed poll %s", session_id, by or "-", poll_id)
    sio: Any = app[SIO]
    await send(sio, PollClosedOut.model_validate(results.public()), to=session_room(session_id), namespace=NAMESPACE)
    await sio.close_room(voters_room(session_id, poll_id), namespace=NAMESPACE)
    return results


def _in_room(ctx: Ctx, room: str) -> bool:
    """Whether this socket is in a room. (`sio.rooms(sid)` scans every room of the namespace, one per
    person in a webinar: O(N) per vote. The manager's `rooms[namespace][room]` maps the room's sids.)"""
    return ctx.sid in ctx.sio.manager.rooms.get(ctx.namespace, {}).get(room, ())


async def _join_results(ctx: Ctx, poll_id: str, tabs: tuple[str, ...] | None) -> None:
    """The other connections of a first-time voter, on any process, start receiving `poll.results` too.

    `tabs` are the voter's connections read with the vote (None: read them now). Most people have one
    tab, and then nothing is left to do. Other tabs join after the vote was counted, so a broadcast
    already under way could miss them: the voters' broadcast is claimed again after they have joined.
    """
    room = voters_room(ctx.session_id, poll_id)
    if tabs is None:
        tabs = tuple(await ctx.state.connections(ctx.session_id, ctx.me.participant_id))
    others = [sid for sid in tabs if sid != ctx.sid]
    for sid in others:
        try:
            await ctx.sio.enter_room(sid, room, namespace=ctx.namespace)
        except Exception:
            log.warning("%s %s: tab %s did not join poll results", ctx.session_id, ctx.me.participant_id, sid)
    if others:
        await ctx.app[BROADCASTER].poke(ctx.session_id, poll_id, ["voters"])


# --- room.state and restarts ----------------------------------------------------------------
async def poll_part(ctx: Ctx) -> dict[str, Any] | None:
    """`room.state.poll`; on the way, a voter's new connection joins the poll's results room."""
    staff = ctx.me.role.is_staff
    board = ctx.app[POLL_BOARD]
    current = await board.current(ctx.session_id)
    if current is None:
        return None
    voted, choices = await board.ballot(ctx.session_id, current.id, ctx.me.participant_id)
    payload: dict[str, Any] = current.spec.public(current.id) | {
        "status": PollStatus.OPEN.value,
        "voted": voted,
        "choices": list(choices) if choices is not None else None,
        "counts": None,
        "voters": None,
    }
    if sees_live_results(staff, voted):
        if voted:
            await ctx.sio.enter_room(ctx.sid, voters_room(ctx.session_id, current.id), namespace=ctx.namespace)
        _, results = await board.results(ctx.session_id, current.id)
        payload |= {"counts": results.counts, "voters": results.voters}
    return payload


async def ensure_loaded(app: web.Application, session_id: str) -> None:
    """After a restart without Redis, the open poll (with its votes) comes back from the database.

    Checked once per session per process, so joining costs no query after the first.
    """
    checked = app[_CHECKED]
    if session_id in checked:
        return
    checked.add(session_id)
    board = app[POLL_BOARD]
    try:
        if await board.current(session_id) is not None:
            return
        await app[POLL_WRITER].flush()
        async with app[DB]() as db:
            poll = await store.open_poll_of(db, session_id)
            if poll is None:
                return
            ballots = await store.ballots_of(db, poll)
        if await board.restore(session_id, poll.id, store.spec_of(poll), ballots):
            log.info("%s: restored open poll %s with %d votes", session_id, poll.id, ballots.voters)
    except Exception:
        checked.discard(session_id)
        log.exception("%s: could not restore the open poll", session_id)


async def close_when_session_ends(app: web.Application, event: SessionEnded) -> None:
    current = await app[POLL_BOARD].current(event.session_id)
    if current is not None:
        await do_close(app, event.session_id, current.id, None)
