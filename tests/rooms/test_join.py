"""Joining `/live`: who is admitted with which role, what `room.state` says, and every refusal."""

from __future__ import annotations

from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff
from tests.rooms.conftest import Connector
from tests.rooms.support import Room, connect, make_room, refusal


async def test_a_guest_joins_as_attendee_and_gets_the_room_state(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    guest = room.guests[0]
    client = await join(guest.token, room.session_id)
    state = client.state
    assert state["session"] == {"id": room.session_id, "kind": "webinar", "title": "Quarterly roadmap", "status": "scheduled"}
    assert state["you"] == {"participant_id": guest.participant_id, "role": "attendee", "name": "Guest 1"}
    assert [p["participant_id"] for p in state["participants"]] == [guest.participant_id]
    assert state["poll"] is None and state["chat"] == [] and state["questions"] == []


async def test_the_sessions_host_joins_as_host_and_other_staff_as_co_host(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    csm = await join(sqlite_staff["csm"].token, room.session_id)
    assert host.state["you"]["role"] == "host"
    assert host.state["you"]["participant_id"] == f"u_{sqlite_staff['host'].id}"
    assert csm.state["you"]["role"] == "co_host"


async def test_a_forged_token_is_refused_with_a_code(room: Room, sqlite_server: LiveServer) -> None:
    error = await refusal(sqlite_server.url, {"token": room.guests[0].token + "x", "session": room.session_id})
    assert error["code"] == "invalid_token"
    assert error["data"]["code"] == "invalid_token" and error["message"]


async def test_missing_auth_is_refused(room: Room, sqlite_server: LiveServer) -> None:
    assert (await refusal(sqlite_server.url, None))["code"] == "bad_auth"


async def test_garbled_auth_is_refused(room: Room, sqlite_server: LiveServer) -> None:
    assert (await refusal(sqlite_server.url, {"token": 42, "session": room.session_id}))["code"] == "bad_auth"
    assert (await refusal(sqlite_server.url, {"token": "x", "session": ["no"]}))["code"] == "bad_auth"


async def test_an_unknown_session_is_refused(room: Room, sqlite_server: LiveServer) -> None:
    error = await refusal(sqlite_server.url, {"token": room.guests[0].token, "session": "nope"})
    assert error["code"] == "unknown_session" and "nope" in error["message"]


async def test_a_join_token_for_another_session_is_refused(
    room: Room, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    from tests.rooms.support import make_room

    other = await make_room(sqlite_server.settings.database_url, sqlite_server.settings.secret_key, sqlite_staff["host"].id)
    error = await refusal(sqlite_server.url, {"token": room.guests[0].token, "session": other.session_id})
    assert error["code"] == "wrong_session"


async def test_an_unknown_api_token_is_refused(room: Room, sqlite_server: LiveServer) -> None:
    error = await refusal(sqlite_server.url, {"token": "live_not-a-token", "session": room.session_id})
    assert error["code"] == "invalid_token"


async def test_staff_may_join_with_the_login_cookie_until_they_sign_out(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    from tests.auth.test_routes import csrf_from, sign_in

    await sign_in(sqlite_server, sqlite_staff["host"].email, sqlite_staff["host"].password)
    cookie = next(c.value for c in sqlite_server.http.cookie_jar if c.key == "live_login")
    client = await join(None, room.session_id, headers={"Cookie": f"live_login={cookie}"})
    assert client.state["you"]["role"] == "host"
    page = await sqlite_server.request("GET", "/")
    await sqlite_server.request("POST", "/logout", data={"csrf_token": csrf_from(page.text)}, allow_redirects=False)
    error = await refusal(sqlite_server.url, {"session": room.session_id}, headers={"Cookie": f"live_login={cookie}"})
    assert error["code"] == "bad_auth"


async def test_a_reconnect_keeps_the_participant_id_and_does_not_duplicate_presence(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = room.guests[0]
    first = await join(guest.token, room.session_id)
    assert (await host.next("presence.joined"))["participant_id"] == guest.participant_id
    second = await join(guest.token, room.session_id)  # a second tab
    assert second.participant_id == first.participant_id
    assert [p["participant_id"] for p in second.state["participants"]].count(guest.participant_id) == 1
    await first.close()
    await second.close()
    left = await host.next("presence.left")
    assert left == {"participant_id": guest.participant_id, "name": "Guest 1", "role": "attendee"}
    again = await join(guest.token, room.session_id)
    assert again.participant_id == guest.participant_id
    await host.next("presence.joined")
    assert host.pending("presence.joined") == [] and host.pending("presence.left") == []


async def test_room_state_carries_ice_servers_and_limits(room: Room, join: Connector) -> None:
    state = (await join(room.guests[0].token, room.session_id)).state
    assert state["ice_servers"] == []
    assert state["limits"]["chat"] == {"burst": 5, "rate": 1.0}


async def test_a_webinar_audience_sees_the_hosts_not_each_other(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    assert (await host.next("presence.joined"))["participant_id"] == a.participant_id
    b = await join(room.guests[1].token, room.session_id)
    assert (await host.next("presence.joined"))["participant_id"] == b.participant_id
    assert {p["participant_id"] for p in b.state["participants"]} == {host.participant_id, b.participant_id}
    # Events reach one client in order: a chat sent after b's arrival comes after any presence for it.
    sent = await b.call("chat.send", {"text": "hi"})
    assert (await a.next("chat.message"))["id"] == sent["id"]
    assert a.pending("presence.joined") == []
    await b.close()
    await host.next_where("presence.left", participant_id=b.participant_id)


async def test_in_a_one_on_one_everyone_sees_everyone(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    server = await make_server(sqlite_url)
    host = await add_staff(sqlite_url, "csm@example.com", "csm")
    room = await make_room(sqlite_url, server.settings.secret_key, host.id, guests=2, kind="one_on_one")
    a = await connect(server.url, room.guests[0].token, room.session_id)
    b = await connect(server.url, room.guests[1].token, room.session_id)
    try:
        assert (await a.next("presence.joined"))["participant_id"] == b.participant_id
        assert {p["participant_id"] for p in b.state["participants"]} == {a.participant_id, b.participant_id}
    finally:
        await a.close()
        await b.close()
