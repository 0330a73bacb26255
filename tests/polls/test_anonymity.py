"""An anonymous poll is really anonymous: no table, emitted event, ack, API response or log line pairs a person with a choice.

The same scanner run over a named (non-anonymous) poll in the same session must find the pairs: it
is the control that shows the scanner would see a link if there were one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from live.db.tables import Base
from live.events.model import EventType
from live.polls.writer import POLL_WRITER
from live.typedefs import ENGINE, EVENT_WRITER
from tests.conftest import LiveServer, StaffMember
from tests.polls.conftest import record_everything
from tests.rooms.conftest import Connector
from tests.rooms.support import Client, make_room

ANONYMOUS = ["Anon-Red", "Anon-Green", "Anon-Blue"]
NAMED = ["Named-Red", "Named-Green", "Named-Blue"]


@dataclass(frozen=True)
class Voter:
    identities: tuple[str, ...]  # participant id, contact id, name, email: anything that says who
    option: str  # the text of the option this person chose


def _walk(value: Any, key: str | None = None) -> Iterator[tuple[str | None, Any]]:
    yield key, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(v, key)


def _strings(record: Any, *, outside: str | None = None) -> list[str]:
    """Every string in the record (and in its keys), skipping what sits under the key `outside`."""
    found: list[str] = []

    def visit(value: Any, skip: bool) -> None:
        if isinstance(value, str):
            if not skip:
                found.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                found.append(str(k))
                visit(v, skip or k == outside)
        elif isinstance(value, list | tuple):
            for v in value:
                visit(v, skip)

    visit(record, False)
    return found


def links(record: Any, poll_id: str, voters: dict[str, Voter]) -> set[str]:
    """The voters this record pairs with a choice in poll `poll_id`.

    A record pairs a person with a choice when it names them and either carries a non-empty
    `choices`/`choice` value while naming the poll, or carries the text of their option outside
    the poll's full `options` list.
    """
    strings = _strings(record)
    about_poll = any(poll_id in s for s in strings)
    has_choices = any(k in ("choices", "choice") and v not in (None, [], ()) for k, v in _walk(record))
    texts = _strings(record, outside="options")
    paired = set()
    for name, voter in voters.items():
        if not any(i in s for i in voter.identities for s in strings):
            continue
        if (about_poll and has_choices) or any(voter.option in s for s in texts):
            paired.add(name)
    return paired


async def database_rows(server: LiveServer) -> list[dict[str, Any]]:
    """Every row of every table, each as {table, column: value}, after every queue is written."""
    await server.app[EVENT_WRITER].flush()
    await server.app[POLL_WRITER].flush()
    rows: list[dict[str, Any]] = []
    async with server.app[ENGINE].connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in (await conn.execute(select(table))).mappings():
                rows.append(
                    {"_table": table.name}
                    | {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
                )
    return rows


async def run_poll(
    host: Client, guests: list[Client], options: list[str], *, anonymous: bool, acks: list[Any]
) -> str:
    opened = await host.call("poll.open", {"question": "Your favourite?", "options": options, "anonymous": anonymous})
    poll_id = str(opened["id"])
    for n, guest in enumerate(guests):
        acks.append(await guest.call("poll.vote", {"poll_id": poll_id, "choices": [n]}))
    await host.next_where("poll.results", counts=[1, 1, 1], voters=3)
    for guest in guests:
        await guest.next_where("poll.results", counts=[1, 1, 1])
    return poll_id


async def test_no_table_event_ack_api_response_or_log_line_pairs_a_person_with_an_anonymous_choice(
    join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="live")
    server = sqlite_server
    room = await make_room(server.settings.database_url, server.settings.secret_key, sqlite_staff["host"].id, guests=3)
    host = await join(sqlite_staff["host"].token, room.session_id)
    co_host = await join(sqlite_staff["csm"].token, room.session_id)
    guests = [await join(g.token, room.session_id) for g in room.guests]
    received = {id(c): record_everything(c) for c in (host, co_host, *guests)}
    acks: list[Any] = []

    def voters_of(options: list[str]) -> dict[str, Voter]:
        return {
            g.name: Voter((g.participant_id, g.contact_id, g.name, f"guest{n + 1}@acme.test"), options[n])
            for n, g in enumerate(room.guests)
        }

    # The control: a named poll, whose pairs every channel below must reveal.
    named = await run_poll(host, guests, NAMED, anonymous=False, acks=acks)
    rejoined = await join(room.guests[0].token, room.session_id)
    received[id(rejoined)] = [("room.state", rejoined.state)]
    await host.call("poll.close", {"poll_id": named})

    secret = await run_poll(host, guests, ANONYMOUS, anonymous=True, acks=acks)
    second = await guests[0].call("poll.vote", {"poll_id": secret, "choices": [2]})
    assert second["ok"] is False and second["error"]["code"] == "already_voted"
    acks.append(second)
    again = await join(room.guests[0].token, room.session_id)
    received[id(again)] = [("room.state", again.state)]
    assert again.state["poll"]["id"] == secret and again.state["poll"]["voted"] is True
    assert again.state["poll"]["choices"] is None
    acks.append(await host.call("poll.close", {"poll_id": secret}))
    for guest in guests:
        await guest.next_where("poll.closed", poll_id=secret)

    api = await server.request("GET", f"/api/v1/sessions/{room.session_id}/polls", sqlite_staff["host"].token)
    assert api.status == 200
    attendance = await server.request("GET", f"/api/v1/sessions/{room.session_id}/attendance", sqlite_staff["host"].token)
    responses = list(api.body) + ([attendance.body] if attendance.status == 200 else [])
    rows = await database_rows(server)
    events = [payload for seen in received.values() for _, payload in seen]
    lines = [r.getMessage() for r in caplog.records]

    channels: dict[str, list[Any]] = {"table rows": rows, "events": events, "acks": acks, "api": responses, "logs": lines}
    for channel, records in channels.items():
        named_links = set().union(*(links(r, named, voters_of(NAMED)) for r in records))
        secret_links = set().union(*(links(r, secret, voters_of(ANONYMOUS)) for r in records))
        if channel in ("table rows", "api"):
            assert named_links == {g.name for g in room.guests}, f"the scanner misses named votes in {channel}"
        if channel == "events":
            # A webinar's attendees do not see each other, so the named pairs clients receive are their own.
            assert named_links, "the scanner misses named votes in events"
        assert secret_links == set(), f"{channel} pair {secret_links} with their anonymous choice"

    # What is kept of the anonymous poll: who voted (no choices) and the counters.
    votes = [r for r in rows if r["_table"] == "poll_votes" and r["poll_id"] == secret]
    assert len(votes) == 3 and all(v["choices"] is None for v in votes)
    tallies = sorted((r["option"], r["count"]) for r in rows if r["_table"] == "poll_tallies" and r["poll_id"] == secret)
    assert tallies == [(0, 1), (1, 1), (2, 1)]
    voted = [r for r in rows if r["_table"] == "events" and r["type"] == EventType.POLL_VOTED.value]
    assert [r["data"] for r in voted if r["data"]["poll_id"] == secret] == [{"poll_id": secret}] * 3
    [listed] = [p for p in api.body if p["id"] == secret]
    assert listed["votes"] == [] and listed["counts"] == [1, 1, 1] and listed["voters"] == 3
