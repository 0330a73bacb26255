"""Speakers from the audience through the running server: invited attendees publish until revoked."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCPeerConnection

from live.media.handlers import MEDIA
from tests.conftest import LiveServer, StaffMember
from tests.engagement.support import eventually
from tests.media.support import MovingPicture, offer_of, wait_for
from tests.recordings.support import publish
from tests.rooms.support import Client, connect, make_room

# Seconds the speaker speaks, then seconds after the revoke (which must not count).
SPOKEN = 1.5


async def try_publish(client: Client, peers: list[RTCPeerConnection]) -> dict[str, Any]:
    pc = RTCPeerConnection()
    peers.append(pc)
    pc.addTransceiver(MovingPicture(), direction="sendonly")
    return dict(await client.call("media.publish", {"description": await offer_of(pc)}))


async def test_an_invited_attendee_publishes_until_the_host_revokes_and_nobody_else_may(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], peers: list[RTCPeerConnection]
) -> None:
    host = sqlite_staff["host"]
    room = await make_room(sqlite_server.settings.database_url, sqlite_server.settings.secret_key, host.id, guests=3)
    host_client = await connect(sqlite_server.url, host.token, room.session_id)
    speaker = await connect(sqlite_server.url, room.guests[0].token, room.session_id)
    other = await connect(sqlite_server.url, room.guests[1].token, room.session_id)
    late = None
    try:
        assert (await try_publish(speaker, peers))["error"]["code"] == "forbidden"
        refused = await other.call("speaker.invite", {"participant_id": speaker.participant_id})
        assert refused["error"]["code"] == "forbidden"
        assert (await host_client.call("speaker.invite", {"participant_id": "c_nobody"}))["error"]["code"] == "not_found"
        itself = await host_client.call("speaker.invite", {"participant_id": host_client.participant_id})
        assert itself["error"]["code"] == "invalid"

        ack = await host_client.call("speaker.invite", {"participant_id": speaker.participant_id})
        assert ack == {"ok": True, "changed": True}
        assert (await other.next("speaker.invited"))["participant_id"] == speaker.participant_id
        late = await connect(sqlite_server.url, room.guests[2].token, room.session_id)
        assert late.state["speakers"] == [speaker.participant_id]

        await publish(speaker, peers)
        assert (await try_publish(other, peers))["error"]["code"] == "forbidden"
        router = sqlite_server.app[MEDIA].get(room.session_id)
        assert router is not None and speaker.participant_id in router.publishers

        revoked = await host_client.call("speaker.revoke", {"participant_id": speaker.participant_id})
        assert revoked == {"ok": True, "changed": True}
        assert (await other.next("speaker.revoked"))["participant_id"] == speaker.participant_id
        await wait_for(lambda: speaker.participant_id not in router.publishers, "the revoked speaker's tracks to stop")
        assert (await try_publish(speaker, peers))["error"]["code"] == "forbidden"
    finally:
        for client in (host_client, speaker, other, late):
            if client is not None:
                await client.close()


async def test_an_invited_attendee_accepts_or_declines_and_the_hosts_hear_which(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = sqlite_staff["host"]
    room = await make_room(sqlite_server.settings.database_url, sqlite_server.settings.secret_key, host.id, guests=2)
    host_client = await connect(sqlite_server.url, host.token, room.session_id)
    ada = await connect(sqlite_server.url, room.guests[0].token, room.session_id)
    bo = await connect(sqlite_server.url, room.guests[1].token, room.session_id)
    try:
        # Nobody invited them: there is nothing to accept or decline; a host has nothing to answer.
        assert (await ada.call("speaker.accept", {}))["error"]["code"] == "not_invited"
        assert (await ada.call("speaker.decline", {}))["error"]["code"] == "not_invited"
        assert (await host_client.call("speaker.accept", {}))["error"]["code"] == "forbidden"
        assert (await ada.call("speaker.accept", {"now": True}))["error"]["code"] == "invalid"

        for guest in (ada, bo):
            await host_client.call("speaker.invite", {"participant_id": guest.participant_id})
        invited = await bo.next_where("speaker.invited", participant_id=ada.participant_id)
        assert invited["name"] == "Guest 1"  # the audience learns the speaker's name with the invitation

        assert await ada.call("speaker.accept", {}) == {"ok": True, "changed": True}
        accepted = await host_client.next("speaker.accepted")
        assert accepted == {"participant_id": ada.participant_id, "name": "Guest 1"}
        assert await ada.call("speaker.accept", {}) == {"ok": True, "changed": False}

        assert await bo.call("speaker.decline", {}) == {"ok": True, "changed": True}
        assert (await host_client.next("speaker.declined"))["participant_id"] == bo.participant_id
        assert (await ada.next_where("speaker.revoked", participant_id=bo.participant_id))
        # Another attendee's answer is the hosts' business, not the audience's.
        assert ada.pending("speaker.declined") == [] and bo.pending("speaker.accepted") == []

        late = await connect(sqlite_server.url, host.token, room.session_id)
        assert late.state["speakers"] == [ada.participant_id]
        assert late.state["speaking"] == [ada.participant_id]
        await late.close()

        # The speaker's last connection goes: their turn ends, and everyone is told.
        await ada.close()
        assert (await host_client.next_where("speaker.revoked", participant_id=ada.participant_id))
        again = await connect(sqlite_server.url, room.guests[0].token, room.session_id)
        assert again.state["speakers"] == [] and again.state["speaking"] == []
        assert (await again.call("speaker.accept", {}))["error"]["code"] == "not_invited"
        await again.close()
    finally:
        for client in (host_client, ada, bo):
            await client.close()


async def test_time_spoken_counts_in_the_speakers_score_and_a_silent_attendee_gets_none_of_it(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = sqlite_staff["host"]
    room = await make_room(sqlite_server.settings.database_url, sqlite_server.settings.secret_key, host.id, guests=2)
    host_client = await connect(sqlite_server.url, host.token, room.session_id)
    # The silent one comes first, so they were present longer: any lead of the speaker's is the speaking.
    silent = await connect(sqlite_server.url, room.guests[1].token, room.session_id)
    speaker = await connect(sqlite_server.url, room.guests[0].token, room.session_id)
    try:
        assert (await host_client.call("session.start", {}))["ok"]
        await host_client.call("speaker.invite", {"participant_id": speaker.participant_id})
        assert (await speaker.call("speaker.accept", {}))["ok"]
        await asyncio.sleep(SPOKEN)
        assert (await host_client.call("speaker.revoke", {"participant_id": speaker.participant_id}))["changed"]
        await asyncio.sleep(SPOKEN)  # revoked: this part is not spoken
        assert (await host_client.call("session.end", {}))["ok"]
    finally:
        for client in (host_client, silent, speaker):
            await client.close()

    async def scored() -> list[dict[str, Any]]:
        response = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/attendance", host.token)
        assert response.status == 200
        rows = [r for r in response.body if r["contact_id"]]
        return rows if all(r["score"] is not None for r in rows) else []

    rows = {r["contact_id"]: r for r in await eventually(scored)}
    spoke, quiet = rows[room.guests[0].contact_id], rows[room.guests[1].contact_id]
    assert SPOKEN * 0.8 <= spoke["spoke_seconds"] <= SPOKEN * 1.5, spoke
    assert spoke["spoke_seconds"] < spoke["present_seconds"] - SPOKEN * 0.8
    assert quiet["spoke_seconds"] == 0
    assert quiet["present_seconds"] >= spoke["present_seconds"]
    assert spoke["components"]["conversation"]["value"] > 0.3
    assert quiet["components"]["conversation"]["value"] == 0
    assert spoke["score"] > quiet["score"] + 3, (spoke["score"], quiet["score"])
    csv = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/report.csv", host.token)
    assert "spoke_seconds" in csv.text.splitlines()[0]
    # The session's staff page says who spoke, and for how long.
    page = (await sqlite_server.request("GET", f"/sessions/{room.session_id}", token=host.token)).text
    assert page.count("spoke 1 s") + page.count("spoke 2 s") == 1, "one speaker, tagged with the time spoken"
