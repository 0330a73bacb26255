"""Bad input over Socket.IO: direction controls, removals of nobody, removals after a restart, undecodable packets."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import update

from live.db.engine import create_engine, session_factory
from live.db.tables import Contact
from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff
from tests.rooms.conftest import Connector
from tests.rooms.support import NAMESPACE, Client, Room, connect, make_room, refusal

SPOOF = "pay to \u202eacme.evil\u202c now"


async def test_chat_and_questions_with_direction_overrides_are_refused_naming_the_character(
    room: Room, join: Connector
) -> None:
    guest = await join(room.guests[0].token, room.session_id)
    for event in ("chat.send", "qa.ask"):
        ack = await guest.call(event, {"text": SPOOF})
        assert ack["ok"] is False and ack["error"]["code"] == "bidi_control"
        assert "U+202E" in ack["error"]["message"]
    isolate = await guest.call("chat.send", {"text": "\u2067hidden\u2069"})
    assert isolate["error"]["code"] == "bidi_control" and "U+2067" in isolate["error"]["message"]
    # Right-to-left text itself is fine: it needs no controls.
    assert (await guest.call("chat.send", {"text": "שלום עולם"}))["ok"] is True


async def test_a_name_with_direction_overrides_is_shown_without_them(
    sqlite_server: LiveServer, room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    engine = create_engine(sqlite_server.settings.database_url)
    try:
        async with session_factory(engine)() as db:
            await db.execute(update(Contact).where(Contact.id == room.guests[0].contact_id).values(name="Ann \u202eeivaD"))
            await db.commit()
    finally:
        await engine.dispose()
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    assert guest.state["you"]["name"] == "Ann eivaD"
    joined = await host.next_where("presence.joined", participant_id=guest.participant_id)
    assert joined["name"] == "Ann eivaD"
    ack = await guest.call("chat.send", {"text": "hello"})
    assert (await host.next_where("chat.message", id=ack["id"]))["name"] == "Ann eivaD"


async def test_removing_someone_who_is_neither_here_nor_invited_is_refused(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    for nobody in ("c_doesnotexist", "x_1", "nobody"):
        ack = await host.call("moderation.remove", {"participant_id": nobody})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack
        assert nobody in ack["error"]["message"]
    # An invited guest who is not in the room (yet) can be removed: they are then refused at the door.
    absent = room.guests[1]
    assert (await host.call("moderation.remove", {"participant_id": absent.participant_id}))["ok"] is True


async def test_a_removal_is_still_enforced_after_a_restart_without_redis(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    first = await make_server(sqlite_url)
    settings = first.settings
    host_member = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, settings.secret_key, host_member.id)
    host = await connect(first.url, host_member.token, room.session_id)
    guest = await connect(first.url, room.guests[0].token, room.session_id)
    assert (await host.call("moderation.remove", {"participant_id": guest.participant_id}))["ok"] is True
    await host.close()
    await guest.close()
    await first.stop()

    second = await make_server(sqlite_url, secret_key=settings.secret_key)
    refused = await refusal(second.url, {"token": room.guests[0].token, "session": room.session_id})
    assert refused["code"] == "removed"
    other = await connect(second.url, room.guests[1].token, room.session_id)  # the others still get in
    await other.close()


async def _raw_call(client: Client, event_json: str) -> Any:
    """Sends a hand-made EVENT packet with an ack id, as a client library with a different JSON encoder might."""
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    ack_id = client.sio._generate_ack_id(NAMESPACE, lambda *args: answer.set_result(args[0] if args else None))
    await client.sio.eio.send(f"2{NAMESPACE},{ack_id}{event_json}")
    return await asyncio.wait_for(answer, 10)


@pytest.mark.parametrize(
    "packet",
    [
        '["chat.send",' + "[" * 100_000 + "]" * 100_000 + "]",
        '["chat.send",{"text":"unterminated"',
        '{"not":"a list"}',
        "[]",
    ],
    ids=["nested-100k-deep", "malformed-json", "an-object", "an-empty-list"],
)
async def test_an_undecodable_packet_gets_a_clear_error_and_the_connection_stays(
    room: Room, join: Connector, caplog: pytest.LogCaptureFixture, packet: str
) -> None:
    guest = await join(room.guests[0].token, room.session_id)
    with caplog.at_level(logging.WARNING):
        ack = await _raw_call(guest, packet)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
        assert (await guest.call("chat.send", {"text": "still here"}))["ok"] is True
    assert guest.sio.connected
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
