"""HTTP handlers for polls: prepare drafts before a session, and read every poll with counts and (unless anonymous) votes."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StrictBool

from live.api.parse import Body, json_body
from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.errors import Conflict, LiveError
from live.isotime import iso
from live.polls import store
from live.polls.handlers import POLL_BOARD
from live.polls.model import MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS, PollStatus, check_spec
from live.polls.writer import POLL_WRITER
from live.typedefs import DB

api = ApiRoutes("polls")


class PollIn(Body):
    question: str = Field(max_length=MAX_QUESTION)
    options: list[Annotated[str, Field(max_length=MAX_OPTION)]] = Field(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)
    multiple: StrictBool = False
    anonymous: StrictBool = False


class PollOut(Out):
    id: str
    session_id: str
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool
    status: str
    counts: list[int]
    voters: int
    votes: list[dict[str, Any]]
    created_at: str | None
    opened_at: str | None
    closed_at: str | None


def poll_json(stored: store.StoredPoll, voters: dict[str, store.Voter]) -> dict[str, Any]:
    poll = stored.poll
    votes = [
        {
            "participant_id": pid,
            "contact_id": voters[pid].contact_id if pid in voters else None,
            "name": voters[pid].name if pid in voters else None,
            "choices": list(choices) if choices is not None else None,
        }
        for pid, choices in stored.votes.items()
    ]
    return {
        "id": poll.id,
        "session_id": poll.session_id,
        "question": poll.question,
        "options": list(poll.options),
        "multiple": poll.multiple,
        "anonymous": poll.anonymous,
        "status": poll.status,
        "counts": list(stored.counts),
        "voters": len(stored.votes),
        # An anonymous poll says how many voted, never who chose what.
        "votes": [] if poll.anonymous else votes,
        "created_at": iso(poll.created_at),
        "opened_at": iso(poll.opened_at),
        "closed_at": iso(poll.closed_at),
    }


@api.post("/api/v1/sessions/{id}/polls", body=PollIn, response=PollOut, status=201, errors=(409,), summary="Prepare a poll to launch from the room")
async def create_draft(request: web.Request) -> web.Response:
    """A prepared poll, launched later from the room with `poll.open {poll_id}`."""
    await require_staff(request, Action.RUN_SESSIONS)
    body = await json_body(request, PollIn)
    spec = check_spec(body.question, body.options, body.multiple, body.anonymous)
    async with request.app[DB]() as db:
        session = await store.session_or_404(db, request.match_info["id"])
        if session.status == "ended":
            raise Conflict(f"Session {session.title!r} has ended; it takes no new polls.", code="session_ended")
        poll = await store.create_poll(db, session.id, spec)
        await db.commit()
        return web.json_response(poll_json(store.StoredPoll(poll, [0] * len(spec.options), {}), {}), status=201)


@api.get("/api/v1/sessions/{id}/polls", response=list[PollOut], summary="Polls with counts and, unless anonymous, votes")
async def list_polls(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_SESSIONS)
    await request.app[POLL_WRITER].flush()  # this process's queued votes first
    async with request.app[DB]() as db:
        session = await store.session_or_404(db, request.match_info["id"])
        polls = [await _live(request.app, s) for s in await store.polls_of_session(db, session.id)]
        voters = await store.voters(db, sorted({pid for p in polls for pid in p.votes}))
    return web.json_response([poll_json(p, voters) for p in polls])


async def _live(app: web.Application, stored: store.StoredPoll) -> store.StoredPoll:
    """The board's counts and ballots where it still has the poll: exact even while other processes' writes queue."""
    if stored.poll.status == PollStatus.DRAFT:
        return stored
    board = app[POLL_BOARD]
    try:
        _, results = await board.results(stored.poll.session_id, stored.poll.id)
        ballots = await board.ballots(stored.poll.session_id, stored.poll.id)
    except LiveError:
        return stored
    return store.StoredPoll(stored.poll, results.counts, ballots)
