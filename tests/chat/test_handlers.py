"""Chat and Q&A over real Socket.IO clients, including history that survives a restart."""

from __future__ import annotations

from live.events.model import EventType
from live.typedefs import EVENT_WRITER
from tests.conftest import LiveServer, ServerFactory, StaffMember
from tests.rooms.conftest import Connector
from tests.rooms.support import Room, connect

HTML = '<img src=x onerror="alert(1)"> & <b>hi</b>  '


async def test_a_chat_message_is_acked_with_its_id_and_broadcast_exactly_as_typed(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    ack = await a.call("chat.send", {"text": HTML})
    assert ack["ok"] is True and ack["id"]
    message = await b.next("chat.message")
    assert message["id"] == ack["id"] and message["text"] == HTML
    assert message["participant_id"] == a.participant_id and message["name"] == "Guest 1"
    assert (await a.next("chat.message"))["id"] == ack["id"]


async def test_a_message_of_2001_characters_is_refused(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    ack = await a.call("chat.send", {"text": "x" * 2001})
    assert ack["ok"] is False and ack["error"]["code"] == "too_long"
    assert (await a.call("chat.send", {"text": "x" * 2000}))["ok"] is True


async def test_chat_text_must_be_a_string(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    for payload in ({"text": 5}, {"text": None}, {}, {"text": ["a"]}):
        ack = await a.call("chat.send", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", payload


async def test_attendee_chat_is_rate_limited(room: Room, join: Connector, sqlite_server: LiveServer) -> None:
    a = await join(room.guests[0].token, room.session_id)
    acks = [await a.call("chat.send", {"text": f"m{n}"}) for n in range(sqlite_server.settings.chat_burst + 2)]
    assert acks[-1] == {"ok": False, "error": {"code": "rate_limited", "message": acks[-1]["error"]["message"]}}


async def test_the_host_deletes_a_message_and_late_joiners_do_not_see_it(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    keep = await guest.call("chat.send", {"text": "keep"})
    drop = await guest.call("chat.send", {"text": "drop"})
    assert await host.call("chat.delete", {"id": drop["id"]}) == {"ok": True, "id": drop["id"]}
    assert await guest.next("chat.deleted") == {"id": drop["id"]}
    late = await join(room.guests[1].token, room.session_id)
    assert [m["id"] for m in late.state["chat"]] == [keep["id"]]


async def test_an_attendee_cannot_delete_messages(room: Room, join: Connector) -> None:
    guest = await join(room.guests[0].token, room.session_id)
    sent = await guest.call("chat.send", {"text": "mine"})
    ack = await guest.call("chat.delete", {"id": sent["id"]})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"


async def test_deleting_an_unknown_message_is_not_found(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    ack = await host.call("chat.delete", {"id": "nope"})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"


async def test_questions_are_asked_upvoted_once_per_person_and_answered(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    asked = await a.call("qa.ask", {"text": "Is <SSO> included?"})
    question = await host.next("qa.question")
    assert question["id"] == asked["id"] and question["text"] == "Is <SSO> included?"
    assert question["upvotes"] == 0 and question["answered"] is False
    assert await b.call("qa.upvote", {"id": asked["id"]}) == {"ok": True, "id": asked["id"], "upvotes": 1}
    assert (await host.next("qa.updated"))["upvotes"] == 1
    again = await b.call("qa.upvote", {"id": asked["id"]})
    assert again["ok"] is False and again["error"]["code"] == "already_upvoted"
    assert (await host.call("qa.answer", {"id": asked["id"]}))["ok"] is True
    updated = await a.next_where("qa.updated", answered=True)
    assert updated["upvotes"] == 1
    late = await join(room.guests[1].token, room.session_id)
    assert late.state["questions"] == [updated]


async def test_staff_cannot_ask_and_attendees_cannot_answer(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    assert (await host.call("qa.ask", {"text": "?"}))["error"]["code"] == "forbidden"
    asked = await guest.call("qa.ask", {"text": "why?"})
    assert (await guest.call("qa.answer", {"id": asked["id"]}))["error"]["code"] == "forbidden"
    assert (await host.call("qa.upvote", {"id": asked["id"]}))["error"]["code"] == "forbidden"


async def test_upvoting_an_unknown_question_is_not_found(room: Room, join: Connector) -> None:
    guest = await join(room.guests[0].token, room.session_id)
    assert (await guest.call("qa.upvote", {"id": "nope"}))["error"]["code"] == "not_found"


async def test_chat_and_questions_survive_a_restart_through_the_event_log(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    from tests.conftest import add_staff
    from tests.rooms.support import make_room

    first = await make_server(sqlite_url)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, first.settings.secret_key, host.id)
    guest = await connect(first.url, room.guests[0].token, room.session_id)
    kept = await guest.call("chat.send", {"text": "before the restart"})
    gone = await guest.call("chat.send", {"text": "deleted"})
    asked = await guest.call("qa.ask", {"text": "still there?"})
    staff = await connect(first.url, host.token, room.session_id)
    await staff.call("chat.delete", {"id": gone["id"]})
    await staff.call("qa.answer", {"id": asked["id"]})
    await guest.close()
    await staff.close()
    await first.stop()  # flushes the writer

    second = await make_server(sqlite_url, secret_key=first.settings.secret_key)
    again = await connect(second.url, room.guests[1].token, room.session_id)
    try:
        assert [(m["id"], m["text"], m["name"]) for m in again.state["chat"]] == [
            (kept["id"], "before the restart", "Guest 1")
        ]
        assert [(q["id"], q["answered"]) for q in again.state["questions"]] == [(asked["id"], True)]
    finally:
        await again.close()
    await second.app[EVENT_WRITER].flush()
    assert EventType.CHAT_MESSAGE.value == "chat.message"
