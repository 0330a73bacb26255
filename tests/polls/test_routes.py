"""Prepared polls over HTTP, launched from the room by id, and the polls API with who voted what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from live.polls.writer import POLL_WRITER
from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff
from tests.rooms.conftest import Connector
from tests.rooms.support import Room, connect, make_room

DRAFT = {"question": "How was onboarding?", "options": ["Great", "Fine", "Hard"]}


async def prepare(server: LiveServer, token: str, session_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await server.request("POST", f"/api/v1/sessions/{session_id}/polls", token, json=body or DRAFT)
    assert response.status == 201, response.body
    return dict(response.body)


async def test_a_prepared_poll_is_a_draft_until_launched_in_one_click_by_its_id(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    draft = await prepare(sqlite_server, sqlite_staff["host"].token, room.session_id)
    assert draft["status"] == "draft" and draft["options"] == DRAFT["options"] and draft["counts"] == [0, 0, 0]
    assert draft["multiple"] is False and draft["anonymous"] is False and draft["votes"] == []

    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    assert host.state["poll"] is None  # a draft is not shown
    assert await host.call("poll.open", {"poll_id": draft["id"]}) == {"ok": True, "id": draft["id"]}
    assert await guest.next("poll.opened") == {
        "id": draft["id"], "question": DRAFT["question"], "options": DRAFT["options"], "multiple": False, "anonymous": False
    }
    await host.call("poll.close", {"poll_id": draft["id"]})
    again = await host.call("poll.open", {"poll_id": draft["id"]})
    assert again["ok"] is False and again["error"]["code"] == "poll_closed"


async def test_a_draft_of_another_session_cannot_be_launched(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    other = await make_room(sqlite_server.settings.database_url, sqlite_server.settings.secret_key, sqlite_staff["host"].id)
    draft = await prepare(sqlite_server, sqlite_staff["host"].token, other.session_id)
    host = await join(sqlite_staff["host"].token, room.session_id)
    ack = await host.call("poll.open", {"poll_id": draft["id"]})
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_poll"


async def test_the_polls_api_lists_every_poll_with_counts_and_who_voted_what(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    token = sqlite_staff["host"].token
    draft = await prepare(sqlite_server, token, room.session_id, {**DRAFT, "multiple": True})
    host = await join(token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    await host.call("poll.open", {"poll_id": draft["id"]})
    await a.call("poll.vote", {"poll_id": draft["id"], "choices": [0, 2]})
    await b.call("poll.vote", {"poll_id": draft["id"], "choices": [1]})
    await b.call("poll.vote", {"poll_id": draft["id"], "choices": [2]})
    await host.call("poll.close", {"poll_id": draft["id"]})
    unused = await prepare(sqlite_server, token, room.session_id, {"question": "Later?", "options": ["y", "n"]})

    response = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/polls", token)
    assert response.status == 200
    first, second = response.body
    assert first["id"] == draft["id"] and first["status"] == "closed" and first["multiple"] is True
    assert first["counts"] == [1, 0, 2] and first["voters"] == 2
    assert first["opened_at"] and first["closed_at"]
    guest_a, guest_b = room.guests
    assert sorted(first["votes"], key=lambda v: v["name"]) == [
        {"participant_id": guest_a.participant_id, "contact_id": guest_a.contact_id, "name": "Guest 1", "choices": [0, 2]},
        {"participant_id": guest_b.participant_id, "contact_id": guest_b.contact_id, "name": "Guest 2", "choices": [2]},
    ]
    assert second["id"] == unused["id"] and second["status"] == "draft" and second["votes"] == []


async def test_preparing_a_poll_needs_a_staff_token_and_a_valid_definition(
    room: Room, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    path = f"/api/v1/sessions/{room.session_id}/polls"
    assert (await sqlite_server.request("POST", path, None, json=DRAFT)).status == 401
    assert (await sqlite_server.request("GET", path, None)).status == 401
    assert (await sqlite_server.request("POST", path, room.guests[0].token, json=DRAFT)).status == 401
    token = sqlite_staff["csm"].token
    for body, named in [
        ({"question": "Q?", "options": ["a"]}, "options"),
        ({"question": "Q?", "options": [str(n) for n in range(11)]}, "options"),
        ({"question": "Q?", "options": ["a", "b"], "anonymous": "yes"}, "anonymous"),
        ({"question": "Q?", "options": ["a", "b"], "extra": 1}, "extra"),
        ({"question": "Q?", "options": ["a", "a"]}, "repeats"),
        ({"question": "", "options": ["a", "b"]}, "question"),
    ]:
        response = await sqlite_server.request("POST", path, token, json=body)
        assert response.status == 400 and named in response.body["error"]["message"], (body, response.body)
    missing = await sqlite_server.request("POST", "/api/v1/sessions/nope/polls", token, json=DRAFT)
    assert missing.status == 404
    assert (await sqlite_server.request("POST", path, token, json=["not", "an", "object"])).status == 400


async def test_an_open_poll_and_its_votes_survive_a_restart(
    make_server: ServerFactory, sqlite_url: str, tmp_path: Path
) -> None:
    first = await make_server(sqlite_url)
    host_user = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, first.settings.secret_key, host_user.id, guests=2)
    host = await connect(first.url, host_user.token, room.session_id)
    a = await connect(first.url, room.guests[0].token, room.session_id)
    poll_id = (await host.call("poll.open", {"question": "Q?", "options": ["x", "y"]}))["id"]
    await a.call("poll.vote", {"poll_id": poll_id, "choices": [1]})
    await host.close()
    await a.close()
    await first.stop()  # a clean stop writes every queued vote

    second = await make_server(sqlite_url, secret_key=first.settings.secret_key)
    b = await connect(second.url, room.guests[1].token, room.session_id)
    a = await connect(second.url, room.guests[0].token, room.session_id)
    try:
        assert a.state["poll"]["id"] == poll_id and a.state["poll"]["choices"] == [1]
        assert a.state["poll"]["counts"] == [0, 1]
        assert b.state["poll"]["voted"] is False
        await b.call("poll.vote", {"poll_id": poll_id, "choices": [1]})
        await a.call("poll.vote", {"poll_id": poll_id, "choices": [0]})
        host = await connect(second.url, host_user.token, room.session_id)
        assert await host.call("poll.close", {"poll_id": poll_id}) == {
            "ok": True, "poll_id": poll_id, "counts": [1, 1], "voters": 2
        }
        await host.close()
    finally:
        await a.close()
        await b.close()
    await second.stop()

    # A third process knows the poll only from the database.
    third = await make_server(sqlite_url, secret_key=first.settings.secret_key)
    assert third.app[POLL_WRITER].pending == 0
    response = await third.request("GET", f"/api/v1/sessions/{room.session_id}/polls", host_user.token)
    [poll] = response.body
    assert poll["status"] == "closed" and poll["counts"] == [1, 1] and poll["voters"] == 2
    assert {v["participant_id"]: v["choices"] for v in poll["votes"]} == {
        room.guests[0].participant_id: [0], room.guests[1].participant_id: [1]
    }
