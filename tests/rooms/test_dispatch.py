"""Bad input never drops a connection: every malformed event gets a clear `{ok: false}` ack."""

from __future__ import annotations

import asyncio

from tests.rooms.conftest import Connector
from tests.rooms.support import NAMESPACE, Room


async def test_an_unknown_event_gets_an_error_ack(room: Room, join: Connector) -> None:
    client = await join(room.guests[0].token, room.session_id)
    ack = await client.call("chat.shout", {"text": "hi"})
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_event" and "chat.shout" in ack["error"]["message"]


async def test_a_non_object_payload_gets_an_error_ack(room: Room, join: Connector) -> None:
    client = await join(room.guests[0].token, room.session_id)
    for payload in ("hello", 42, [1, 2], True):
        ack = await client.call("chat.send", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", payload
    assert client.sio.connected


async def test_extra_keys_are_refused_naming_them(room: Room, join: Connector) -> None:
    client = await join(room.guests[0].token, room.session_id)
    ack = await client.call("chat.send", {"text": "hi", "color": "red"})
    assert ack["ok"] is False and "color" in ack["error"]["message"]


async def test_several_arguments_are_refused(room: Room, join: Connector) -> None:
    client = await join(room.guests[0].token, room.session_id)
    ack = await client.call("chat.send", {"text": "a"}, {"text": "b"})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"


async def test_an_event_without_an_ack_is_handled_and_the_connection_stays(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    await a.sio.emit("chat.send", {"text": "no ack wanted"}, namespace=NAMESPACE)
    await a.sio.emit("chat.send", "garbage", namespace=NAMESPACE)
    assert (await b.next("chat.message"))["text"] == "no ack wanted"
    await asyncio.sleep(0)
    assert (await a.call("hand.raise"))["ok"] is True


async def test_a_huge_payload_is_refused_and_the_connection_stays(room: Room, join: Connector) -> None:
    client = await join(room.guests[0].token, room.session_id)
    ack = await client.call("chat.send", {"text": "x" * 100_001})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"
    assert (await client.call("chat.send", {"text": "still here"}))["ok"] is True
