"""Fuzzing every client event with random JSON through a real python-socketio client against the real app.

Whatever the payload (any shape, up to 200,000 characters, under the 256 KiB packet limit), as the host
and as an attendee: every event is answered through its ack, the connection stays up, and the server logs
no error. Each registered event gets PER_EVENT examples.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from live.rooms.dispatch import EventRegistry
from live.typedefs import ROOM_EVENTS
from tests.conftest import ServerFactory, add_staff
from tests.rooms.support import Client, connect, make_room

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40,
)
BIG_TEXT = st.integers(0, 200_000).map(lambda n: "x" * n)
# Examples per event (x 21 events, as host or attendee at random): about half a minute on a quiet machine.
PER_EVENT = 8


SDP = st.fixed_dictionaries(
    {"type": st.sampled_from(["offer", "answer", "pranswer", "rollback", "x"]),
     "sdp": st.text(max_size=200) | st.just("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n")}
)


def typed(annotation: str) -> st.SearchStrategy[Any]:
    """A value of roughly the field's own type, to get past validation into the handlers."""
    if "bool" in annotation:
        return st.booleans()
    if "list" in annotation:
        return st.lists(st.integers(-3, 12), max_size=12)
    if "int" in annotation or "float" in annotation:
        return st.integers(-5, 2000)
    if "dict" in annotation:
        return SDP | st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4)
    return st.text(max_size=300) | st.sampled_from(["c_x", "u_x", "0" * 32, "heart", "applause"]) | BIG_TEXT


def payloads(fields: dict[str, str]) -> st.SearchStrategy[Any]:
    """Any JSON; an object with the event's own keys holding any values; or one holding values of their types."""
    keys = st.sampled_from(sorted(fields)) if fields else st.text(max_size=12)
    values = JSON | BIG_TEXT | st.sampled_from(["", "c_x", "u_x", "0" * 64])
    own = st.dictionaries(keys | st.text(max_size=12), values, max_size=len(fields) + 1)
    well_typed = st.fixed_dictionaries({}, optional={name: typed(kind) for name, kind in fields.items()})
    return st.one_of(JSON, own, BIG_TEXT, well_typed, well_typed)


async def test_every_event_answers_any_payload_with_an_ack_and_no_internal_error(
    make_server: ServerFactory, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server(
        sqlite_url, chat_burst=10_000, reaction_burst=10_000, signal_burst=10_000, rtc_burst=10_000,
        vote_burst=10_000, query_burst=10_000,
    )
    host_member = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, server.settings.secret_key, host_member.id)
    host = await connect(server.url, host_member.token, room.session_id)
    guest = await connect(server.url, room.guests[0].token, room.session_id)
    registry: EventRegistry = server.app[ROOM_EVENTS]
    names = registry.names()
    fields = {
        name: {f: str(info.annotation) for f, info in registry.get(name).model.model_fields.items()}  # type: ignore[union-attr]
        for name in names
    }
    loop = asyncio.get_running_loop()
    answers: list[tuple[str, Any]] = []

    async def call(client: Client, event: str, payload: Any) -> Any:
        return await client.sio.call(event, payload, namespace="/live", timeout=20)

    def fuzz(event: str) -> None:
        """Hypothesis over one event's payloads, so every event is fuzzed (not just those a draw happens to pick)."""

        @settings(max_examples=PER_EVENT, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
        @given(data=st.data())
        def one_event(data: st.DataObject) -> None:
            payload = data.draw(payloads(fields[event]), label="payload")
            who = data.draw(st.sampled_from([host, guest]), label="who")
            sent = "session.start" if event == "session.end" else event  # an ended session is read-only
            ack = asyncio.run_coroutine_threadsafe(call(who, sent, payload), loop).result(60)
            answers.append((sent, ack))
            assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (sent, payload, ack)
            if not ack["ok"]:
                assert ack["error"]["code"] != "internal", (sent, payload, ack)
            assert host.sio.connected and guest.sio.connected, (sent, payload)

        one_event()

    def fuzz_all() -> None:
        for event in names:
            fuzz(event)

    try:
        with caplog.at_level(logging.WARNING):
            await asyncio.to_thread(fuzz_all)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == []
        assert {event for event, _ in answers} >= set(names) - {"session.end"}
    finally:
        await host.close()
        await guest.close()
