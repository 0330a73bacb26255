"""The room's own events over real Socket.IO clients: going live, reactions, hands, focus, media state,
moderation and signaling, each with its refusals."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from live.bus import BUS
from live.db.engine import create_engine
from live.db.tables import LiveSession
from live.domain_events import SessionEnded
from live.events.model import EventType
from live.events.store import session_events
from live.typedefs import EVENT_WRITER
from tests.conftest import LiveServer, StaffMember
from tests.rooms.conftest import Connector
from tests.rooms.support import Room, refusal


async def logged(server: LiveServer, session_id: str) -> list[Any]:
    await server.app[EVENT_WRITER].flush()
    return await session_events(server.app[EVENT_WRITER]._engine, session_id)


async def test_the_host_starts_and_ends_the_session_and_everyone_hears_it(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    ended: list[str] = []
    done = asyncio.Event()

    async def hook(app: Any, event: SessionEnded) -> None:
        ended.append(event.session_id)
        done.set()

    sqlite_server.app[BUS].subscribe(SessionEnded, hook)
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)

    ack = await host.call("session.start", {})
    assert ack["ok"] is True
    started = await guest.next("session.started")
    assert started == {"id": room.session_id, "at": ack["at"]}
    assert (await host.call("session.end", {}))["ok"] is True
    await guest.next("session.ended")
    await asyncio.wait_for(done.wait(), 5)
    assert ended == [room.session_id]

    engine = create_engine(sqlite_server.settings.database_url)
    async with engine.connect() as conn:
        row = (await conn.execute(select(LiveSession).where(LiveSession.id == room.session_id))).one()
    await engine.dispose()
    assert row.status == "ended" and row.started_at is not None and row.ended_at is not None
    types = [e.type for e in await logged(sqlite_server, room.session_id)]
    assert EventType.SESSION_STARTED in types and EventType.SESSION_ENDED in types


async def test_an_attendee_cannot_start_the_session(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    guest = await join(room.guests[0].token, room.session_id)
    ack = await guest.call("session.start", {})
    assert ack == {"ok": False, "error": {"code": "forbidden", "message": ack["error"]["message"]}}
    assert "host" in ack["error"]["message"]


async def test_ending_a_session_that_never_started_is_refused(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    ack = await host.call("session.end", {})
    assert ack["ok"] is False and ack["error"]["code"] == "bad_status"


async def test_after_the_end_attendees_are_refused_and_chat_is_closed(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    await host.call("session.start")
    await host.call("session.end")
    ack = await host.call("chat.send", {"text": "too late"})
    assert ack["ok"] is False and ack["error"]["code"] == "session_ended"
    error = await refusal(sqlite_server.url, {"token": room.guests[0].token, "session": room.session_id})
    assert error["code"] == "session_ended"


async def test_a_reaction_reaches_everyone(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    assert await a.call("reaction.send", {"kind": "applause"}) == {"ok": True}
    assert await b.next("reaction") == {"participant_id": a.participant_id, "kind": "applause"}


async def test_an_unknown_reaction_kind_is_refused_naming_it(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    ack = await a.call("reaction.send", {"kind": "confetti"})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid" and "confetti" in ack["error"]["message"]


async def test_attendee_reactions_are_rate_limited_but_the_hosts_are_not(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    burst = sqlite_server.settings.reaction_burst
    guest = await join(room.guests[0].token, room.session_id)
    host = await join(sqlite_staff["host"].token, room.session_id)
    acks = [await guest.call("reaction.send", {"kind": "heart"}) for _ in range(burst + 3)]
    assert all(a["ok"] for a in acks[:burst])
    assert acks[-1]["ok"] is False and acks[-1]["error"]["code"] == "rate_limited"
    host_acks = [await host.call("reaction.send", {"kind": "heart"}) for _ in range(burst + 3)]
    assert all(a["ok"] for a in host_acks)


async def test_hands_go_up_and_down_and_show_in_the_room_state(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    assert (await guest.call("hand.raise"))["ok"] is True
    assert await host.next("hand.raised") == {"participant_id": guest.participant_id}
    late = await join(room.guests[1].token, room.session_id)
    assert late.state["hands"] == [guest.participant_id]
    co_host = await join(sqlite_staff["csm"].token, room.session_id)  # staff see the whole audience
    assert [p["hand_raised"] for p in co_host.state["participants"] if p["participant_id"] == guest.participant_id] == [True]
    assert (await host.call("hand.lower", {"participant_id": guest.participant_id}))["changed"] is True
    assert await guest.next("hand.lowered") == {"participant_id": guest.participant_id}


async def test_an_attendee_cannot_lower_someone_elses_hand(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    await a.call("hand.raise")
    ack = await b.call("hand.lower", {"participant_id": a.participant_id})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"


async def test_focus_is_recorded_per_connection(room: Room, join: Connector, sqlite_server: LiveServer) -> None:
    guest = await join(room.guests[0].token, room.session_id)
    assert await guest.call("focus", {"visible": False}) == {"ok": True}
    events = [e for e in await logged(sqlite_server, room.session_id) if e.type is EventType.FOCUS]
    assert events[0].data == {"sid": guest.sio.get_sid("/live"), "visible": False}


async def test_the_hosts_see_who_has_the_page_in_view_and_attendees_do_not(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    assert await a.call("focus", {"visible": False}) == {"ok": True}
    assert await host.next("participant.focus") == {"participant_id": a.participant_id, "visible": False}
    # Events reach one client in order: once b hears a's reaction, a focus change would have arrived before it.
    await a.call("reaction.send", {"kind": "heart"})
    await b.next_where("reaction", participant_id=a.participant_id)
    assert b.queues["participant.focus"].empty()

    co_host = await join(sqlite_staff["csm"].token, room.session_id)
    seen = {p["participant_id"]: p.get("visible") for p in co_host.state["participants"]}
    assert seen[a.participant_id] is False and seen[b.participant_id] is True
    late_guest = await join(room.guests[1].token, room.session_id)
    assert all("visible" not in p for p in late_guest.state["participants"])


async def test_focus_refuses_a_string_for_a_bool(room: Room, join: Connector) -> None:
    guest = await join(room.guests[0].token, room.session_id)
    ack = await guest.call("focus", {"visible": "yes"})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid" and "visible" in ack["error"]["message"]


async def test_media_state_reaches_the_hosts_and_is_kept_for_late_joiners(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    a = await join(room.guests[0].token, room.session_id)
    co_host = await join(sqlite_staff["csm"].token, room.session_id)
    assert await a.call("media.state", {"camera": True, "mic": False}) == {"ok": True}
    assert await co_host.next("media.state") == {"participant_id": a.participant_id, "camera": True, "mic": False}
    late_host = await join(sqlite_staff["host"].token, room.session_id)  # sees the whole audience
    mine = next(p for p in late_host.state["participants"] if p["participant_id"] == a.participant_id)
    assert mine["camera"] is True and mine["mic"] is False


async def test_a_webinar_attendee_is_shown_the_hosts_with_their_media_state_and_not_the_audience(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    assert await host.call("media.state", {"camera": True, "mic": True}) == {"ok": True}
    first = await join(room.guests[0].token, room.session_id)
    assert await first.call("media.state", {"camera": False, "mic": False}) == {"ok": True}
    late = await join(room.guests[1].token, room.session_id)
    shown = {p["participant_id"]: p for p in late.state["participants"]}
    assert set(shown) == {host.participant_id, late.participant_id}
    assert shown[host.participant_id]["camera"] is True and shown[host.participant_id]["mic"] is True


async def test_the_host_mutes_an_attendee_whose_microphone_is_on(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)
    assert await guest.call("media.state", {"camera": False, "mic": True}) == {"ok": True}
    assert await host.call("moderation.mute", {"participant_id": guest.participant_id}) == {"ok": True}
    assert await guest.next("moderation.muted") == {"participant_id": guest.participant_id, "by": host.participant_id}


async def test_muting_someone_who_sends_no_audio_is_refused_with_a_reason(
    room: Room, join: Connector, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    watcher = await join(room.guests[0].token, room.session_id)  # a webinar attendee who only watches
    muted = await join(room.guests[1].token, room.session_id)
    assert await muted.call("media.state", {"camera": True, "mic": False}) == {"ok": True}
    for target in (watcher, muted):
        ack = await host.call("moderation.mute", {"participant_id": target.participant_id})
        assert ack["ok"] is False and ack["error"]["code"] == "not_sending"
        assert target.participant_id in ack["error"]["message"] and "nothing to mute" in ack["error"]["message"]
        assert target.pending("moderation.muted") == []


async def test_an_attendee_cannot_mute_or_remove(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    for event in ("moderation.mute", "moderation.remove"):
        ack = await a.call(event, {"participant_id": b.participant_id})
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden"


async def test_a_removed_participant_is_disconnected_everywhere_and_cannot_rejoin(
    room: Room, join: Connector, sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = room.guests[0]
    tab1 = await join(guest.token, room.session_id)
    tab2 = await join(guest.token, room.session_id)
    assert await host.call("moderation.remove", {"participant_id": guest.participant_id}) == {"ok": True}
    removed = await host.next("moderation.removed")
    assert removed["participant_id"] == guest.participant_id and removed["reason"]
    assert (await tab1.next("moderation.removed"))["participant_id"] == guest.participant_id
    await host.next_where("presence.left", participant_id=guest.participant_id)
    for tab in (tab1, tab2):
        for _ in range(100):
            if not tab.sio.connected:
                break
            await asyncio.sleep(0.02)
        assert not tab.sio.connected
    error = await refusal(sqlite_server.url, {"token": guest.token, "session": room.session_id})
    assert error["code"] == "removed"


async def test_rtc_signal_is_relayed_to_the_named_peer_only(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Connector
) -> None:
    from tests.rooms.support import make_room

    room = await make_room(
        sqlite_server.settings.database_url, sqlite_server.settings.secret_key, sqlite_staff["csm"].id,
        kind="one_on_one", guests=2,
    )
    csm = await join(sqlite_staff["csm"].token, room.session_id)
    a = await join(room.guests[0].token, room.session_id)
    b = await join(room.guests[1].token, room.session_id)
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    assert await csm.call("rtc.signal", {"to": a.participant_id, "description": offer}) == {"ok": True}
    assert await a.next("rtc.signal") == {"from": csm.participant_id, "description": offer}
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
    await a.call("rtc.signal", {"to": csm.participant_id, "candidate": candidate})
    assert await csm.next("rtc.signal") == {"from": a.participant_id, "candidate": candidate}
    assert b.pending("rtc.signal") == []


async def test_rtc_signal_to_someone_absent_is_refused(room: Room, join: Connector) -> None:
    a = await join(room.guests[0].token, room.session_id)
    ack = await a.call("rtc.signal", {"to": room.guests[1].participant_id, "description": {"type": "offer", "sdp": ""}})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
