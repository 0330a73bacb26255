"""Speakers from the audience through the running server: invited attendees publish until revoked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCPeerConnection

from live.media.handlers import MEDIA
from tests.conftest import LiveServer, StaffMember
from tests.media.support import MovingPicture, offer_of, wait_for
from tests.recordings.support import publish
from tests.rooms.support import Client, connect, make_room


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await pc.close()


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
