"""The poll board, in memory and in Redis: a vote also claims the next broadcasts; in Redis it reads the voter's tabs
and refuses once the session has ended, and a burst of votes (sent in batches) tallies exactly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from live.errors import Conflict
from live.polls import board as board_module
from live.polls.board import MemoryPollBoard, PollBoard, RedisPollBoard
from live.polls.model import PollSpec
from live.rooms.model import Participant, RoomRole
from live.rooms.presence import PresenceKeys, RedisPresence
from tests.conftest import REDIS_URL

SPEC = PollSpec("Which day?", ("Mon", "Tue", "Wed"), multiple=False, anonymous=False)
CLAIMS = {"staff": 5.0, "voters": 5.0}


@pytest.fixture(params=["memory", "redis"])
async def board(request: pytest.FixtureRequest) -> AsyncIterator[PollBoard]:
    made: PollBoard = MemoryPollBoard() if request.param == "memory" else RedisPollBoard(REDIS_URL, PresenceKeys())
    yield made
    await made.close_backend()


@pytest.fixture
def session_id() -> str:
    return "t" + uuid.uuid4().hex


async def test_the_first_vote_claims_each_audiences_broadcast_and_later_votes_do_not(
    board: PollBoard, session_id: str
) -> None:
    await board.open(session_id, "p1", SPEC)
    first = await board.vote(session_id, "p1", "c_1", (0,), False, CLAIMS)
    assert first.first is True and first.claimed == {"staff", "voters"}
    second = await board.vote(session_id, "p1", "c_2", (1,), False, CLAIMS)
    assert second.claimed == frozenset()
    # The staff broadcast went out (its claim released); the voters' has not yet.
    await board.release_broadcast(session_id, "p1", "staff")
    again = await board.vote(session_id, "p1", "c_1", (2,), False, CLAIMS)
    assert again.first is False and again.previous == (0,) and again.claimed == {"staff"}
    # A vote that asks for no claim takes none.
    assert (await board.vote(session_id, "p1", "c_3", (2,), False)).claimed == frozenset()
    _, results = await board.results(session_id, "p1")
    assert results.counts == [0, 1, 2] and results.voters == 3


@pytest.mark.redis
async def test_a_first_vote_reads_the_voters_tabs_and_a_re_vote_does_not(session_id: str) -> None:
    state, board = RedisPresence(REDIS_URL), RedisPollBoard(REDIS_URL, PresenceKeys())
    try:
        ann = Participant(session_id, "c_1", RoomRole.ATTENDEE, "Ann", contact_id="1")
        await state.add_connection(ann, "sid-a")
        await state.add_connection(ann, "sid-b")
        await board.open(session_id, "p1", SPEC)
        first = await board.vote(session_id, "p1", "c_1", (0,), False)
        assert first.tabs == ("sid-a", "sid-b")
        assert (await board.vote(session_id, "p1", "c_1", (1,), False)).tabs is None
        alone = await board.vote(session_id, "p1", "c_2", (1,), False)
        assert alone.first is True and alone.tabs == ()
    finally:
        await state.close()
        await board.close_backend()


@pytest.mark.redis
async def test_a_vote_in_a_session_that_has_ended_is_refused_in_the_same_step_as_counting(session_id: str) -> None:
    """The namespace checks a cached status; another process may end the session just before the vote lands."""
    state, board = RedisPresence(REDIS_URL), RedisPollBoard(REDIS_URL, PresenceKeys())
    try:
        await state.set_status(session_id, "live")
        await board.open(session_id, "p1", SPEC)
        await board.vote(session_id, "p1", "c_1", (0,), False)
        await state.set_status(session_id, "ended")
        for voter in ("c_1", "c_2"):  # a re-vote and a first vote alike
            with pytest.raises(Conflict) as refused:
                await board.vote(session_id, "p1", voter, (1,), False, CLAIMS)
            assert refused.value.code == "session_ended"
            assert refused.value.message == "'poll.vote' is not possible while the session is 'ended'."
        _, results = await board.results(session_id, "p1")
        assert results.counts == [1, 0, 0] and results.voters == 1
    finally:
        await state.close()
        await board.close_backend()


@pytest.mark.redis
async def test_a_burst_of_votes_larger_than_a_batch_tallies_exactly_with_one_claim_per_audience(
    session_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(board_module, "VOTE_BATCH", 7)  # many batches, one of them partly full
    board = RedisPollBoard(REDIS_URL, PresenceKeys())
    try:
        await board.open(session_id, "p1", SPEC)
        await board.open(session_id + "x", "p2", SPEC)
        people = 50
        casts = await asyncio.gather(
            *(board.vote(session_id, "p1", f"c_{n}", (n % 3,), False, CLAIMS) for n in range(people)),
            # Votes of another session's poll, and refusals, in the same batches.
            *(board.vote(session_id + "x", "p2", f"c_{n}", (2,), False) for n in range(5)),
            board.vote(session_id, "nope", "c_1", (0,), False),
            return_exceptions=True,
        )
        assert all(c.first for c in casts[: people + 5])  # type: ignore[union-attr]
        assert isinstance(casts[-1], Exception) and "nope" in str(casts[-1])
        assert sum(len(c.claimed) for c in casts[:people]) == 2  # type: ignore[union-attr]
        _, results = await board.results(session_id, "p1")
        assert results.counts == [len(range(k, people, 3)) for k in range(3)] and results.voters == people
        _, other = await board.results(session_id + "x", "p2")
        assert other.counts == [0, 0, 5]
    finally:
        await board.close_backend()
