"""Polls over real Socket.IO clients against the real server: open, vote, re-vote, close, results, refusals."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from live.events.model import EventType
from live.events.store import session_events
from live.typedefs import ENGINE, EVENT_WRITER
from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff
from tests.rooms.conftest import Connector
from tests.rooms.support import Client, Room, make_room

DAYS = {"question": "Which day suits you?", "options": ["Mon", "Tue", "Wed"]}


async def open_poll(host: Client, **definition: Any) -> str:
    ack = await host.call("poll.open", definition or DAYS)
    assert ack["ok"] is True, ack
    return str(ack["id"])


async def test_the_host_opens_a_poll_and_everyone_gets_it(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    poll_id = await open_poll(host, question="Ship it?", options=["Yes", "No"], multiple=False, anonymous=False)
    opened = {"id": poll_id, "question": "Ship it?", "options": ["Yes", "No"], "multiple": False, "anonymous": False}
    assert await guest.next("poll.opened") == opened
    assert await host.next("poll.opened") == opened

    late = await join(room.guests[1].token, room.session_id)
    assert late.state["poll"] == opened | {"status": "open", "voted": False, "choices": None, "counts": None, "voters": None}
    co_host = await join(sqlite_staff["csm"].token, room.session_id)
    assert co_host.state["poll"]["counts"] == [0, 0] and co_host.state["poll"]["voters"] == 0


async def test_votes_reach_the_host_as_throttled_results_and_converge_to_the_counts(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    poll_id = await open_poll(host)
    assert await a.call("poll.vote", {"poll_id": poll_id, "choices": [1]}) == {"ok": True, "poll_id": poll_id}
    assert (await b.call("poll.vote", {"poll_id": poll_id, "choices": [1]}))["ok"] is True
    final = {"poll_id": poll_id, "counts": [0, 2, 0], "voters": 2}
    assert await host.next_where("poll.results", **final) == final
    # Attendees see results once they have voted.
    assert await a.next_where("poll.results", **final) == final


async def test_voting_again_replaces_the_earlier_vote(room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    poll_id = await open_poll(host)
    for choice in (0, 2, 1):
        assert (await a.call("poll.vote", {"poll_id": poll_id, "choices": [choice]}))["ok"] is True
    assert await host.next_where("poll.results", counts=[0, 1, 0], voters=1)
    # Reconnecting shows your own vote.
    again = await join(room.guests[0].token, room.session_id)
    assert again.state["poll"]["voted"] is True and again.state["poll"]["choices"] == [1]
    assert again.state["poll"]["counts"] == [0, 1, 0]


async def test_a_multiple_choice_vote_counts_each_option_once(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    poll_id = await open_poll(host, question="Which tools?", options=["Jira", "Slack", "Zoom"], multiple=True)
    await a.call("poll.vote", {"poll_id": poll_id, "choices": [2, 0]})
    await b.call("poll.vote", {"poll_id": poll_id, "choices": [0]})
    await a.call("poll.vote", {"poll_id": poll_id, "choices": [0, 1]})
    assert await host.next_where("poll.results", counts=[2, 1, 0], voters=2)


async def test_closing_sends_the_final_counts_to_everyone_and_refuses_later_votes(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    silent = await join(room.guests[1].token, room.session_id)
    poll_id = await open_poll(host)
    await a.call("poll.vote", {"poll_id": poll_id, "choices": [2]})
    final = {"poll_id": poll_id, "counts": [0, 0, 1], "voters": 1}
    assert await host.call("poll.close", {"poll_id": poll_id}) == {"ok": True, **final}
    for client in (host, a, silent):
        assert await client.next("poll.closed") == final
    # Live results went to the host and the voter, never to the attendee who did not vote.
    assert silent.pending("poll.results") == []

    late = await a.call("poll.vote", {"poll_id": poll_id, "choices": [0]})
    assert late["ok"] is False and late["error"]["code"] == "poll_closed" and poll_id in late["error"]["message"]
    again = await host.call("poll.close", {"poll_id": poll_id})
    assert again["ok"] is False and again["error"]["code"] == "poll_closed"
    rejoined = await join(room.guests[1].token, room.session_id)
    assert rejoined.state["poll"] is None


async def test_one_poll_at_a_time_a_second_open_is_refused_until_the_first_closes(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    first = await open_poll(host)
    refused = await host.call("poll.open", {"question": "Another?", "options": ["a", "b"]})
    assert refused["ok"] is False and refused["error"]["code"] == "poll_open" and first in refused["error"]["message"]
    await host.call("poll.close", {"poll_id": first})
    assert (await host.call("poll.open", {"question": "Another?", "options": ["a", "b"]}))["ok"] is True


async def test_attendees_cannot_open_or_close_and_staff_cannot_vote(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    co_host = await join(sqlite_staff["csm"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    refused = await guest.call("poll.open", DAYS)
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    poll_id = await open_poll(co_host)  # a co-host runs polls too
    for staff in (host, co_host):
        ack = await staff.call("poll.vote", {"poll_id": poll_id, "choices": [0]})
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    ack = await guest.call("poll.close", {"poll_id": poll_id})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    assert (await host.call("poll.close", {"poll_id": poll_id}))["ok"] is True


@pytest.mark.parametrize(
    ("payload", "code", "named"),
    [
        ({"question": "Q?", "options": ["only"]}, "invalid", "options"),
        ({"question": "Q?", "options": [str(n) for n in range(11)]}, "invalid", "options"),
        ({"question": "Q?", "options": []}, "invalid", "options"),
        ({"question": "Q?", "options": ["a", "x" * 201]}, "invalid", "options.1"),
        ({"question": "Q?", "options": ["a", 2]}, "invalid", "options.1"),
        ({"question": "Q?", "options": ["a", "A"]}, "bad_options", "repeats"),
        ({"question": "Q?", "options": ["a", "  "]}, "bad_options", "Option 1 is empty"),
        ({"question": "  ", "options": ["a", "b"]}, "empty", "question"),
        ({"question": "Q?", "options": ["a", "b"], "multiple": "yes"}, "invalid", "multiple"),
        ({"question": "Q?", "options": ["a", "b"], "colour": "red"}, "invalid", "colour"),
        ({"question": "Q?"}, "invalid", "options"),
        ({}, "invalid", "poll_id"),
        ({"poll_id": "abc", "question": "Q?"}, "invalid", "not both"),
        ({"poll_id": 5}, "invalid", "poll_id"),
        ({"poll_id": "nope"}, "unknown_poll", "nope"),
    ],
)
async def test_a_bad_poll_definition_is_refused_naming_the_bad_value(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember], payload: dict[str, Any], code: str, named: str
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    ack = await host.call("poll.open", payload)
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    assert named in ack["error"]["message"]


async def test_a_poll_open_payload_that_is_not_an_object_is_refused(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    for payload in (["Q?", ["a", "b"]], "Q?", 5):
        ack = await host.call("poll.open", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", payload
    assert host.sio.connected


@pytest.mark.parametrize(
    ("choices", "code", "named"),
    [
        ([3], "bad_choices", "Choice 3"),
        ([-1], "bad_choices", "Choice -1"),
        ([0, 0], "bad_choices", "Choice 0 is given more than once"),
        ([], "bad_choices", "empty"),
        ([0, 1], "bad_choices", "exactly one"),
        (["0"], "invalid", "choices.0"),
        ([True], "invalid", "choices.0"),
        ([1.5], "invalid", "choices.0"),
        (list(range(11)), "invalid", "choices"),
        (0, "invalid", "choices"),
    ],
)
async def test_a_bad_vote_is_refused_naming_the_bad_value(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember], choices: Any, code: str, named: str
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    poll_id = await open_poll(host)
    ack = await guest.call("poll.vote", {"poll_id": poll_id, "choices": choices})
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    assert named in ack["error"]["message"]


async def test_votes_with_extra_keys_unknown_polls_or_no_object_are_refused(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    poll_id = await open_poll(host)
    extra = await guest.call("poll.vote", {"poll_id": poll_id, "choices": [0], "weight": 5})
    assert extra["ok"] is False and extra["error"]["code"] == "invalid" and "weight" in extra["error"]["message"]
    unknown = await guest.call("poll.vote", {"poll_id": "f" * 32, "choices": [0]})
    assert unknown["ok"] is False and unknown["error"]["code"] == "unknown_poll"
    for payload in ([poll_id, [0]], "vote", None):
        ack = await guest.call("poll.vote", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", payload
    closing = await host.call("poll.close", {"poll_id": "f" * 32})
    assert closing["ok"] is False and closing["error"]["code"] == "unknown_poll"


async def test_many_votes_coalesce_into_few_results_whose_last_has_every_vote(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    voters = 30
    server = await make_server(sqlite_url, poll_results_interval=0.5)
    host_user = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, server.settings.secret_key, host_user.id, guests=voters)
    from tests.rooms.support import connect

    host = await connect(server.url, host_user.token, room.session_id)
    guests = await asyncio.gather(*(connect(server.url, g.token, room.session_id) for g in room.guests))
    try:
        poll_id = await open_poll(host)
        acks = await asyncio.gather(
            *(g.call("poll.vote", {"poll_id": poll_id, "choices": [n % 3]}) for n, g in enumerate(guests))
        )
        assert all(a["ok"] for a in acks)
        expected = [len(range(0, voters, 3)), len(range(1, voters, 3)), len(range(2, voters, 3))]
        await host.next_where("poll.results", counts=expected, voters=voters)
        # Voters get results less often than the staff, but every one of them gets the last.
        for guest in guests:
            await guest.next_where("poll.results", counts=expected, voters=voters)
        results = await host.call("poll.close", {"poll_id": poll_id})
        assert results["counts"] == expected
        seen = host.pending("poll.results")
        assert len(seen) < voters, "results were not coalesced"
    finally:
        for client in (host, *guests):
            await client.close()


async def test_votes_are_in_the_event_log_with_choices_unless_anonymous(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember], sqlite_server: LiveServer
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    named = await open_poll(host)
    await guest.call("poll.vote", {"poll_id": named, "choices": [1]})
    await host.call("poll.close", {"poll_id": named})
    secret = await open_poll(host, question="Secret?", options=["a", "b"], anonymous=True)
    await guest.call("poll.vote", {"poll_id": secret, "choices": [1]})
    await host.call("poll.close", {"poll_id": secret})
    await sqlite_server.app[EVENT_WRITER].flush()
    log = await session_events(sqlite_server.app[ENGINE], room.session_id)
    polls = [(e.type, e.participant_id, e.data) for e in log if e.type.value.startswith("poll.")]
    host_pid, guest_pid = host.participant_id, guest.participant_id
    assert polls == [
        (EventType.POLL_OPENED, host_pid, {"poll_id": named}),
        (EventType.POLL_VOTED, guest_pid, {"poll_id": named, "choices": [1]}),
        (EventType.POLL_CLOSED, host_pid, {"poll_id": named}),
        (EventType.POLL_OPENED, host_pid, {"poll_id": secret}),
        (EventType.POLL_VOTED, guest_pid, {"poll_id": secret}),
        (EventType.POLL_CLOSED, host_pid, {"poll_id": secret}),
    ]


async def test_ending_the_session_closes_the_open_poll(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    await host.call("session.start")
    poll_id = await open_poll(host)
    await guest.call("poll.vote", {"poll_id": poll_id, "choices": [0]})
    assert (await host.call("session.end"))["ok"] is True
    assert await guest.next("poll.closed") == {"poll_id": poll_id, "counts": [1, 0, 0], "voters": 1}
