"""Presence, in memory and in Redis: the same behaviour from both, atomic under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from live.rooms import presence as state_module
from live.rooms.model import MediaState, Participant, RoomRole
from live.rooms.presence import MemoryPresence, Presence, RedisPresence
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[Presence]:
    made: Presence = MemoryPresence() if request.param == "memory" else RedisPresence(REDIS_URL)
    await made.start()
    yield made
    await made.close()


def person(session: str, n: int, role: RoomRole = RoomRole.ATTENDEE) -> Participant:
    return Participant(session, f"c_{n}", role, f"Guest {n}", contact_id=str(n))


@pytest.fixture
def session_id() -> str:
    return "t" + uuid.uuid4().hex


async def test_a_person_joins_with_their_first_connection_and_leaves_with_their_last(
    state: Presence, session_id: str
) -> None:
    ann = person(session_id, 1)
    assert await state.add_connection(ann, "sid1") is True
    assert await state.add_connection(ann, "sid2") is False
    assert [p.participant_id for p in await state.participants(session_id)] == ["c_1"]
    assert await state.connections(session_id, "c_1") == ["sid1", "sid2"]
    await state.raise_hand(session_id, "c_1")
    assert await state.remove_connection(session_id, "c_1", "sid1") is False
    assert await state.remove_connection(session_id, "c_1", "sid1") is False  # twice is harmless
    assert await state.remove_connection(session_id, "c_1", "sid2") is True
    assert await state.participants(session_id) == []
    assert await state.hands(session_id) == []  # leaving lowers the hand


async def test_concurrent_joins_of_one_person_announce_exactly_one_arrival(state: Presence, session_id: str) -> None:
    ann = person(session_id, 1)
    firsts = await asyncio.gather(*(state.add_connection(ann, f"sid{n}") for n in range(20)))
    assert firsts.count(True) == 1
    lasts = await asyncio.gather(*(state.remove_connection(session_id, "c_1", f"sid{n}") for n in range(20)))
    assert lasts.count(True) == 1


async def test_hands_and_removals(state: Presence, session_id: str) -> None:
    assert await state.raise_hand(session_id, "c_1") is True
    assert await state.raise_hand(session_id, "c_1") is False
    assert await state.hands(session_id) == ["c_1"]
    assert await state.lower_hand(session_id, "c_1") is True
    assert await state.lower_hand(session_id, "c_1") is False
    assert await state.is_removed(session_id, "c_2") is False
    await state.mark_removed(session_id, "c_2")
    assert await state.is_removed(session_id, "c_2") is True


async def test_what_people_show_and_the_rooms_marks(state: Presence, session_id: str) -> None:
    assert await state.media(session_id) == {}
    await state.set_media(session_id, "c_1", MediaState(camera=True, mic=False))
    await state.set_media(session_id, "c_1", MediaState(camera=True, mic=True))  # the latest wins
    await state.set_media(session_id, "c_2", MediaState(camera=False, mic=False))
    assert await state.media(session_id) == {"c_1": MediaState(True, True), "c_2": MediaState(False, False)}
    assert await state.focus(session_id) == {}
    await state.set_focus(session_id, "c_1", False)
    await state.set_focus(session_id, "c_2", True)
    assert await state.focus(session_id) == {"c_1": False, "c_2": True}
    assert await state.removals_loaded(session_id) is False
    await state.mark_removals_loaded(session_id)
    assert await state.removals_loaded(session_id) is True
    assert await state.empty_mark(session_id) is None
    await state.set_empty_mark(session_id, "timer-1")
    assert await state.empty_mark(session_id) == "timer-1"
    await state.set_empty_mark(session_id, None)
    assert await state.empty_mark(session_id) is None
    await state.set_empty_mark(session_id, None)  # clearing twice is harmless
    assert await state.status(session_id) is None  # the marks are not the status


async def test_a_sessions_state_is_listed_and_dropped_whole(state: Presence, session_id: str) -> None:
    await state.add_connection(person(session_id, 1), "sid1")
    await state.set_media(session_id, "c_1", MediaState(camera=True, mic=True))
    await state.set_status(session_id, "ended")
    await state.remove_connection(session_id, "c_1", "sid1")
    assert session_id in await state.session_ids()
    assert await state.drop_session(session_id) > 0
    assert session_id not in await state.session_ids()
    assert await state.media(session_id) == {} and await state.status(session_id) is None


async def test_local_connections_name_this_process_only(state: Presence, session_id: str) -> None:
    await state.add_connection(person(session_id, 1), "sidA")
    mine = [c for c in await state.local_connections() if c.session_id == session_id]
    assert [(c.participant_id, c.sid) for c in mine] == [("c_1", "sidA")]
    await state.remove_connection(session_id, "c_1", "sidA")


async def test_a_dead_processs_connections_are_swept_by_a_live_one(session_id: str) -> None:
    dead = RedisPresence(REDIS_URL)
    alive = RedisPresence(REDIS_URL)
    await dead.start()
    await alive.start()
    await dead.add_connection(person(session_id, 1), "sid1")
    # The process dies without cleaning up: its heartbeat stops and expires.
    assert dead._beat is not None
    dead._beat.cancel()
    await dead._redis.delete(f"live:proc:{dead.process_id}:alive")
    swept = await alive.sweep_dead_processes()
    assert [(s.connection.session_id, s.connection.participant_id, s.left) for s in swept] == [
        (session_id, "c_1", True)
    ]
    assert swept[0].participant == person(session_id, 1)
    assert await alive.participants(session_id) == []
    await alive.close()
    await dead._redis.aclose()


async def test_the_session_status_is_set_once_when_only_new_and_then_changed(state: Presence, session_id: str) -> None:
    assert await state.status(session_id) is None
    assert await state.set_status(session_id, "scheduled", only_new=True) is True
    assert await state.set_status(session_id, "live", only_new=True) is False
    assert await state.status(session_id) == "scheduled"
    assert await state.set_status(session_id, "live") is True
    assert await state.status(session_id) == "live"


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Polls `check` (every 10 ms, for up to 5 s) until it holds."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within 5 s: {what}")


async def _subscribed(*states: RedisPresence) -> bool:
    return all(s._subscribed for s in states)


async def _is(state: RedisPresence, session_id: str, expected: str) -> bool:
    return await state.status(session_id) == expected


async def _cached(state: RedisPresence, session_id: str) -> bool:
    await state.status(session_id)
    return session_id in state._statuses


async def test_a_status_cached_by_one_process_changes_when_another_process_changes_it(
    session_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cached for a minute: only the change's message can make the other process read it again.
    monkeypatch.setattr(state_module, "STATUS_TTL", 60.0)
    a, b = RedisPresence(REDIS_URL), RedisPresence(REDIS_URL)
    await a.start()
    await b.start()
    try:
        await _until(lambda: _subscribed(a, b), "both processes hear status changes")
        await a.set_status(session_id, "live", only_new=True)
        assert await b.status(session_id) == "live"
        await _until(lambda: _cached(b, session_id), "B caches it")  # once the change's own message is heard
        await a.set_status(session_id, "ended")
        assert await a.status(session_id) == "ended"  # at once on the process that changed it
        await _until(lambda: _is(b, session_id, "ended"), "B hears the change")
    finally:
        await a.close()
        await b.close()


async def test_a_status_read_that_raced_a_change_is_not_cached(session_id: str) -> None:
    state = RedisPresence(REDIS_URL)
    await state.start()
    try:
        await _until(lambda: _subscribed(state), "it hears status changes")
        await state.set_status(session_id, "live")
        # A change is heard while a read is in flight: whatever the read returns, it is not kept.
        await _until(lambda: _cached(state, session_id), "it caches the status")
        state._forget_status(session_id)
        read = asyncio.ensure_future(state.status(session_id))
        await asyncio.sleep(0)  # the read is now waiting for Redis
        state._forget_status(session_id)
        assert await read == "live"
        assert session_id not in state._statuses
        await _until(lambda: _cached(state, session_id), "it caches the status")
    finally:
        await state.close()


async def test_the_staff_are_read_without_the_audience_and_leave_with_their_last_connection(
    state: Presence, session_id: str
) -> None:
    host = person(session_id, 0, RoomRole.HOST)
    co_host = person(session_id, 1, RoomRole.CO_HOST)
    audience = [person(session_id, n) for n in range(2, 12)]
    for n, someone in enumerate([host, co_host, *audience]):
        await state.add_connection(someone, f"sid{n}")
    await state.add_connection(host, "second-tab")
    assert sorted(p.participant_id for p in await state.staff(session_id)) == ["c_0", "c_1"]
    assert len(await state.participants(session_id)) == 12

    assert await state.remove_connection(session_id, "c_0", "sid0") is False  # still in a second tab
    assert sorted(p.participant_id for p in await state.staff(session_id)) == ["c_0", "c_1"]
    assert await state.remove_connection(session_id, "c_0", "second-tab") is True
    assert [p.participant_id for p in await state.staff(session_id)] == ["c_1"]


async def test_a_few_peoples_media_are_read_without_the_rest(state: Presence, session_id: str) -> None:
    for n in range(20):
        await state.set_media(session_id, f"c_{n}", MediaState(camera=n % 2 == 0, mic=False))
    assert await state.media(session_id, ["c_0", "c_3", "c_99"]) == {
        "c_0": MediaState(camera=True, mic=False),
        "c_3": MediaState(camera=False, mic=False),
    }
    assert await state.media(session_id, []) == {}
