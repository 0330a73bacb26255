"""Joining `/live`: who is admitted with which role, what `room.state` says, and every refusal."""

from __future__ import annotations

from tests.conftest import LiveServer, StaffMember
from tests.rooms.conftest import Connector
from tests.rooms.support import Room, refusal


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
