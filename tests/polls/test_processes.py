"""Two real `live serve` processes on one Postgres and Redis agree on the open poll and its tallies."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import REDIS_URL, add_staff
from tests.rooms.support import Client, connect, make_room
from tests.rooms.test_processes import close_all, serve


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_processes_share_one_open_poll_and_exact_tallies(tmp_path: Path, postgres_url: str) -> None:
    secret = "shared-" + uuid.uuid4().hex
    host_user = await add_staff(postgres_url, "host@example.com", "host")
    co_user = await add_staff(postgres_url, "csm@example.com", "csm")
    room = await make_room(postgres_url, secret, host_user.id, guests=6)
    # 21 votes from one person at once test coalescing across processes, not the vote limit (5 at once).
    votes_unlimited = {"LIVE_RATE_LIMITS": '{"vote": {"burst": 100}}'}
    async with serve(tmp_path, postgres_url, secret, REDIS_URL, votes_unlimited) as (a_url, _), serve(
        tmp_path, postgres_url, secret, REDIS_URL, votes_unlimited
    ) as (b_url, _):
        host = await connect(a_url, host_user.token, room.session_id)
        co_host = await connect(b_url, co_user.token, room.session_id)
        guests = [await connect(a_url if n % 2 else b_url, g.token, room.session_id) for n, g in enumerate(room.guests)]
        # The first guest has a second tab on the other process.
        second_tab = await connect(a_url, room.guests[0].token, room.session_id)
        clients: list[Client] = [host, co_host, *guests, second_tab]
        try:
            opened = await host.call("poll.open", {"question": "Best day?", "options": ["Mon", "Tue", "Wed"]})
            poll_id = opened["id"]
            assert (await guests[0].next("poll.opened"))["id"] == poll_id
            refused = await co_host.call("poll.open", {"question": "Also?", "options": ["a", "b"]})
            assert refused["ok"] is False and refused["error"]["code"] == "poll_open"

            # Everyone votes at once; the two-tab guest flips between choices from both processes.
            votes = [g.call("poll.vote", {"poll_id": poll_id, "choices": [n % 3]}) for n, g in enumerate(guests[1:], 1)]
            flips = [
                (second_tab if k % 2 else guests[0]).call("poll.vote", {"poll_id": poll_id, "choices": [k % 3]})
                for k in range(20)
            ]
            acks = await asyncio.gather(*votes, *flips)
            assert all(a["ok"] for a in acks)
            last = await guests[0].call("poll.vote", {"poll_id": poll_id, "choices": [2]})
            assert last["ok"] is True
            expected = [1, 2, 3]  # guests 1..5 chose 1, 2, 0, 1, 2; guest 0 finally chose 2
            assert await host.next_where("poll.results", counts=expected, voters=6)
            assert await co_host.next_where("poll.results", counts=expected, voters=6)
            # The second tab (on the other process) joined the results with its person's first vote.
            assert await second_tab.next_where("poll.results", counts=expected)
            # Every voter, on either process, gets the results after the last vote (voters' trailing broadcast).
            for guest in guests:
                assert await guest.next_where("poll.results", counts=expected, voters=6)

            final = await co_host.call("poll.close", {"poll_id": poll_id})
            assert final == {"ok": True, "poll_id": poll_id, "counts": expected, "voters": 6}
            for client in clients:
                assert (await client.next("poll.closed"))["counts"] == expected

            async with aiohttp.ClientSession() as http, http.get(
                f"{a_url}/api/v1/sessions/{room.session_id}/polls",
                headers={"Authorization": f"Bearer {host_user.token}"},
            ) as response:
                [poll] = await response.json()
            assert poll["counts"] == expected and poll["voters"] == 6 and poll["status"] == "closed"
            chosen = {v["name"]: v["choices"] for v in poll["votes"]}
            assert chosen == {g.name: [[2, 1, 2, 0, 1, 2][n]] for n, g in enumerate(room.guests)}
        finally:
            await close_all(*clients)


@pytest.mark.postgres
@pytest.mark.redis
async def test_once_the_session_ends_on_one_process_the_other_refuses_votes_and_chat(
    tmp_path: Path, postgres_url: str
) -> None:
    """Each process caches the session's status; ending it on A must still close B's room at once."""
    secret = "shared-" + uuid.uuid4().hex
    host_user = await add_staff(postgres_url, "host@example.com", "host")
    room = await make_room(postgres_url, secret, host_user.id, guests=2)
    # 21 votes from one person at once test coalescing across processes, not the vote limit (5 at once).
    votes_unlimited = {"LIVE_RATE_LIMITS": '{"vote": {"burst": 100}}'}
    async with serve(tmp_path, postgres_url, secret, REDIS_URL, votes_unlimited) as (a_url, _), serve(
        tmp_path, postgres_url, secret, REDIS_URL, votes_unlimited
    ) as (b_url, _):
        host = await connect(a_url, host_user.token, room.session_id)
        voter = await connect(b_url, room.guests[0].token, room.session_id)
        chatter = await connect(b_url, room.guests[1].token, room.session_id)
        try:
            await host.call("session.start")
            await voter.next("session.started")
            poll_id = (await host.call("poll.open", {"question": "Go on?", "options": ["yes", "no"]}))["id"]
            # B has just checked (and cached) the status: live.
            assert (await voter.call("poll.vote", {"poll_id": poll_id, "choices": [0]}))["ok"] is True
            assert (await chatter.call("chat.send", {"text": "still here"}))["ok"] is True

            assert (await host.call("session.end"))["ok"] is True
            # The very next vote on B, sent without waiting for `session.ended`, is refused.
            late = await voter.call("poll.vote", {"poll_id": poll_id, "choices": [1]})
            assert late["ok"] is False and late["error"]["code"] == "session_ended", late
            # Whoever has been told the session ended is refused by B too.
            await chatter.next("session.ended")
            refused = await chatter.call("chat.send", {"text": "too late"})
            assert refused["ok"] is False and refused["error"]["code"] == "session_ended"
            closed = await voter.next("poll.closed")
            assert closed["counts"] == [1, 0] and closed["voters"] == 1
        finally:
            await close_all(host, voter, chatter)
