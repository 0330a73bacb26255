"""Socket.IO handlers of polls (`poll.open`, `poll.vote`, `poll.close`), throttled live results and `room.state.poll`.

Who hears what:
- `poll.opened` and `poll.closed` go to everyone in the session.
- `poll.results` (live, throttled) goes to the hosts and co-hosts, and to each attendee once they have
  voted: the room's `staff:{session}` (`live.rooms.dispatch.staff_room`) plus `poll:{session}:{poll}`
  (a voter's connections join it with their first vote, or on arrival if they voted before).

The vote path is O(1): one atomic step on the board (memory or one Redis Lua script), an append to the
event log's and the vote writer's queues, and no broadcast of its own. `ResultsBroadcaster` coalesces
votes into at most one `poll.results` per `poll_results_interval` per poll across every process, and
always sends the state after the last vote (a trailing broadcast).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from live.db.tables import new_id
from live.events.model import EventType, LogEvent
from live.polls import store
from live.polls.board import MemoryPollBoard, PollBoard, RedisPollBoard
from live.polls.events import PollCloseIn, PollOpenIn, PollVoteIn
from live.polls.model import PollStatus, Results, check_choices, sees_live_results, vote_delta
from live.polls.writer import POLL_WRITER, poll_writer_ctx
from live.rooms.dispatch import Ctx, EventRegistry, now, session_room, staff_room
from live.rooms.model import ATTENDEES, STAFF
from live.rooms.namespace import NAMESPACE
from live.typedefs import DB, EVENT_WRITER, ON_SESSION_ENDED, ROOM_STATE_PARTS, SETTINGS, SIO

log = logging.getLogger(__name__)

# A results broadcast claimed by a process that then died is given up after this many extra seconds.
CLAIM_SLACK = 2.0


def voters_room(session_id: str, poll_id: str) -> str:
    return f"poll:{session_id}:{poll_id}"


class ResultsBroadcaster:
    """At most one `poll.results` per interval per poll, across processes, and always one after the last vote.

    A vote pokes the broadcaster after the board has counted it. The first poke wins a claim on the
    board (`claim_broadcast`, shared by every process) and schedules a broadcast one interval later;
    later pokes see the claim and do nothing. The broadcast gives up the claim *before* reading the
    counts, so a vote that lost to the claim is always in the counts read, or wins a new claim.
    """

    def __init__(self, app: web.Application, board: PollBoard, interval: float) -> None:
        self._app = app
        self._board = board
        self._interval = interval
        self._scheduled: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def poke(self, session_id: str, poll_id: str) -> None:
        key = (session_id, poll_id)
        if key in self._scheduled:
            return  # this process broadcasts soon, and has not read the counts yet
        if not await self._board.claim_broadcast(session_id, poll_id, self._interval + CLAIM_SLACK):
            return
        self._scheduled[key] = asyncio.create_task(self._broadcast_later(key), name=f"poll-results-{poll_id}")

    async def _broadcast_later(self, key: tuple[str, str]) -> None:
        session_id, poll_id = key
        await asyncio.sleep(self._interval)
        self._scheduled.pop(key, None)
        try:
            await self._board.release_broadcast(session_id, poll_id)
            status, results = await self._board.results(session_id, poll_id)
            if status is PollStatus.OPEN:  # a closed poll's final counts went out with `poll.closed`
                sio: Any = self._app[SIO]
                await sio.emit(
                    "poll.results",
                    results.public(),
                    to=[staff_room(session_id), voters_room(session_id, poll_id)],
                    namespace=NAMESPACE,
                )
        except Exception:
            log.exception("%s: could not broadcast results of poll %s", session_id, poll_id)

    def cancel(self, session_id: str, poll_id: str) -> None:
        task = self._scheduled.pop((session_id, poll_id), None)
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
    registry.add("poll.open", open_poll, PollOpenIn, roles=STAFF)
    registry.add("poll.vote", vote, PollVoteIn, roles=ATTENDEES)
    registry.add("poll.close", close_poll, PollCloseIn, roles=STAFF)
    registry.on_join.append(ensure_loaded)
    app[ROOM_STATE_PARTS]["poll"] = poll_part
    app[ON_SESSION_ENDED].append(close_when_session_ends)
    app[_CHECKED] = set()
    # Torn down in reverse: broadcasts stop and the board closes before the vote writer's last flush.
    app.cleanup_ctx.append(poll_writer_ctx)
    app.cleanup_ctx.append(polls_ctx)


async def polls_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    board: PollBoard = RedisPollBoard(settings.redis_url) if settings.redis_url else MemoryPollBoard()
    app[POLL_BOARD] = board
    app[BROADCASTER] = ResultsBroadcaster(app, board, settings.poll_results_interval)
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
    await ctx.emit("poll.opened", spec.public(poll_id))
    return {"id": poll_id}


async def vote(ctx: Ctx, body: PollVoteIn) -> dict[str, Any]:
    board = ctx.app[POLL_BOARD]
    writer = ctx.app[POLL_WRITER]
    spec = await board.spec(ctx.session_id, body.poll_id)
    choices = check_choices(spec, body.choices)
    writer.ensure_open()
    cast = await board.vote(ctx.session_id, body.poll_id, ctx.me.participant_id, choices, spec.anonymous)
    # An anonymous poll's choices go only into counters: never beside the person in a row, event or log.
    ctx.log(EventType.POLL_VOTED, {"poll_id": body.poll_id} | ({} if spec.anonymous else {"choices": list(choices)}))
    writer.record(body.poll_id, ctx.me.participant_id, None if spec.anonymous else choices, vote_delta(cast.previous, choices))
    if cast.first:
        await _join_results(ctx, body.poll_id)
    await ctx.app[BROADCASTER].poke(ctx.session_id, body.poll_id)
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
    await sio.emit("poll.closed", results.public(), to=session_room(session_id), namespace=NAMESPACE)
    await sio.close_room(voters_room(session_id, poll_id), namespace=NAMESPACE)
    return results


async def _join_results(ctx: Ctx, poll_id: str) -> None:
    """Every connection of a first-time voter, on any process, starts receiving `poll.results`."""
    room = voters_room(ctx.session_id, poll_id)
    await ctx.sio.enter_room(ctx.sid, room, namespace=ctx.namespace)
    for sid in await ctx.state.connections(ctx.session_id, ctx.me.participant_id):
        if sid != ctx.sid:
            try:
                await ctx.sio.enter_room(sid, room, namespace=ctx.namespace)
            except Exception:
                log.warning("%s %s: tab %s did not join poll results", ctx.session_id, ctx.me.participant_id, sid)


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


async def close_when_session_ends(app: web.Application, session_id: str) -> None:
    current = await app[POLL_BOARD].current(session_id)
    if current is not None:
        await do_close(app, session_id, current.id, None)
