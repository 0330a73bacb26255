"""Attendee limits: every event has a rate kind, buckets outlive reconnects and processes, audience noise stays with staff."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from live.rooms.dispatch import EventRegistry
from live.rooms.model import RateKind
from live.rooms.presence import MemoryPresence, Presence, RedisPresence
from live.typedefs import ROOM_EVENTS
from tests.conftest import REDIS_URL, LiveServer, ServerFactory, StaffMember, add_staff
from tests.rooms.conftest import Connector
from tests.rooms.support import Client, Room, connect, make_room


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[Presence]:
    made: Presence = MemoryPresence() if request.param == "memory" else RedisPresence(REDIS_URL)
    await made.start()
    yield made
    await made.close()


async def test_a_bucket_gives_its_burst_then_says_how_long_to_wait(state: Presence) -> None:
    session = "t" + uuid.uuid4().hex
    waits = [await state.take_token(session, "c_1", "chat", 3, 0.5) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0 < waits[3] <= 2.0  # one token at 0.5 a second
    # Another person, another kind: their own buckets.
    assert await state.take_token(session, "c_2", "chat", 3, 0.5) == 0.0
    assert await state.take_token(session, "c_1", "reaction", 3, 0.5) == 0.0


async def test_two_processes_share_one_bucket_per_person_through_redis() -> None:
    session = "t" + uuid.uuid4().hex
    a, b = RedisPresence(REDIS_URL), RedisPresence(REDIS_URL)
    await a.start()
    await b.start()
    try:
        waits = await asyncio.gather(*(
            (a if n % 2 else b).take_token(session, "c_1", "chat", 5, 0.01) for n in range(12)
        ))
        assert sorted(w == 0.0 for w in waits).count(True) == 5
    finally:
        await a.close()
        await b.close()


async def test_every_event_an_attendee_can_send_has_a_limit(sqlite_server: LiveServer) -> None:
    registry: EventRegistry = sqlite_server.app[ROOM_EVENTS]
    for name in registry.names():
        spec = registry.get(name)
        assert spec is not None
        if any(not role.is_staff for role in spec.roles):
            assert spec.rate is not RateKind.STAFF_ONLY, name
    assert {registry.get(n).rate for n in ("media.state", "hand.raise", "hand.lower", "focus")} == {RateKind.SIGNAL}  # type: ignore[union-attr]
    assert {registry.get(n).rate for n in ("rtc.signal", "media.subscribe")} == {RateKind.RTC}  # type: ignore[union-attr]


@pytest.fixture
async def slow_server(make_server: ServerFactory, sqlite_url: str) -> LiveServer:
    """Buckets that hardly refill during a test (one token per 100 s), so counts do not depend on timing."""
    return await make_server(sqlite_url, chat_rate=0.01, signal_rate=0.01)


async def test_reconnecting_does_not_refill_an_attendees_chat_limit(slow_server: LiveServer) -> None:
    settings = slow_server.settings
    host = await add_staff(settings.database_url, "host@example.com", "host")
    room = await make_room(settings.database_url, settings.secret_key, host.id, guests=1)
    accepted = 0
    for _ in range(8):
        guest = await connect(slow_server.url, room.guests[0].token, room.session_id)
        try:
            for _ in range(settings.chat_burst):
                accepted += (await guest.call("chat.send", {"text": "hi"}))["ok"]
        finally:
            await guest.close()
    assert accepted == settings.chat_burst


async def test_an_attendee_flooding_camera_state_is_cut_off_and_the_host_is_not(slow_server: LiveServer) -> None:
    settings = slow_server.settings
    host = await add_staff(settings.database_url, "host@example.com", "host")
    room = await make_room(settings.database_url, settings.secret_key, host.id, guests=1)
    guest = await connect(slow_server.url, room.guests[0].token, room.session_id)
    staff = await connect(slow_server.url, host.token, room.session_id)
    try:
        acks = [await guest.call("media.state", {"camera": n % 2 == 0, "mic": False}) for n in range(settings.signal_burst + 5)]
        assert [a["ok"] for a in acks].count(True) == settings.signal_burst
        assert acks[-1]["error"]["code"] == "rate_limited"
        assert "signal" in acks[-1]["error"]["message"]
        staff_acks = [await staff.call("media.state", {"camera": True, "mic": True}) for _ in range(settings.signal_burst + 5)]
        assert all(a["ok"] for a in staff_acks)
    finally:
        await guest.close()
        await staff.close()


async def _nothing_more(client: Client, event: str) -> list[object]:
    await asyncio.sleep(0.3)  # a flush of anything in flight; what is asserted is absence, not speed
    return client.pending(event)


async def test_in_a_webinar_an_attendees_camera_and_hand_reach_the_staff_not_the_rest_of_the_audience(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    assert (await a.call("media.state", {"camera": True, "mic": False}))["ok"] is True
    assert (await a.call("hand.raise", {}))["ok"] is True
    expected = {"participant_id": a.participant_id, "camera": True, "mic": False}
    assert await host.next_where("media.state", **expected) == expected
    assert await host.next("hand.raised") == {"participant_id": a.participant_id}
    assert await a.next("hand.raised") == {"participant_id": a.participant_id}  # their own tabs know
    # The sender's own "media.state" came back to them too; the other attendee heard nothing.
    assert await _nothing_more(b, "media.state") == [] and b.pending("hand.raised") == []
    # The host's own state still goes to everyone: the audience sees the hosts.
    assert (await host.call("media.state", {"camera": True, "mic": True}))["ok"] is True
    assert (await b.next_where("media.state", participant_id=host.participant_id))["mic"] is True


async def test_attendees_of_a_webinar_cannot_signal_each_other(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    ack = await a.call("rtc.signal", {"to": b.participant_id, "candidate": {"candidate": "x"}})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    assert await _nothing_more(b, "rtc.signal") == []
