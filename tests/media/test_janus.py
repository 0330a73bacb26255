"""Webinar media on real Janus nodes (origin and edges): real aiortc publisher and viewers, real Socket.IO signaling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from live.media.events import AnswerAck
from live.media.janus.handlers import JANUS
from live.media.janus.model import NodeSpec
from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff
from tests.media.janus_support import JanusNode, make_node
from tests.media.support import HEIGHT, TIMEOUT, WIDTH, MovingPicture, Sink, answer_of, offer_of, wait_for
from tests.rooms.support import Client, Room, connect, make_room


@pytest.fixture
async def janus_nodes(tmp_path: Path) -> AsyncIterator[list[JanusNode]]:
    """An origin and two edges, each a real `janus` process on its own ports."""
    nodes = [make_node(tmp_path, "origin"), make_node(tmp_path, "edge"), make_node(tmp_path, "edge")]
    try:
        for node in nodes:
            await node.start()
        yield nodes
    finally:
        for node in nodes:
            await node.kill()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        await client.close()


@pytest.fixture
async def sinks() -> AsyncIterator[list[Sink]]:
    made: list[Sink] = []
    yield made
    for sink in made:
        await sink.close()


async def janus_server(make_server: ServerFactory, sqlite_url: str, nodes: list[JanusNode]) -> LiveServer:
    specs = [NodeSpec(node.url, node.role) for node in nodes]
    return await make_server(sqlite_url, media="janus", janus=specs)


async def webinar(server: LiveServer, guests: int) -> tuple[StaffMember, Room]:
    host = await add_staff(server.settings.database_url, "host@example.com", "host")
    room = await make_room(server.settings.database_url, server.settings.secret_key, host.id, guests=guests)
    return host, room


async def publish(client: Client, sinks: list[Sink]) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    sinks.append(Sink(pc))
    pc.addTransceiver(MovingPicture(), direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    ack = await client.call("media.publish", {"description": await offer_of(pc)}, wait=TIMEOUT)
    AnswerAck.model_validate(ack)
    await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    return pc


async def watch(client: Client, sinks: list[Sink]) -> tuple[Sink, dict[str, Any]]:
    """Subscribes as a page does with Janus: ask for the offer, answer it."""
    ack = await client.call("media.subscribe", {}, wait=TIMEOUT)
    assert ack["ok"] is True, ack
    assert ack["description"]["type"] == "offer"
    pc = RTCPeerConnection()
    sink = Sink(pc)
    sinks.append(sink)
    await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    answered = await client.call("media.answer", {"description": await answer_of(pc)}, wait=TIMEOUT)
    assert answered == {"ok": True}
    return sink, ack


async def test_a_publisher_on_the_origin_is_seen_by_viewers_placed_on_two_edges(
    make_server: ServerFactory,
    sqlite_url: str,
    janus_nodes: list[JanusNode],
    clients: list[Client],
    sinks: list[Sink],
) -> None:
    server = await janus_server(make_server, sqlite_url, janus_nodes)
    host, room = await webinar(server, guests=2)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    assert host_client.state["media"] == "janus"
    await publish(host_client, sinks)
    await host_client.next_where("media.available", wait=TIMEOUT, participant_id=host_client.participant_id)

    viewers = []
    for guest in room.guests:
        client = await connect(server.url, guest.token, room.session_id)
        clients.append(client)
        assert client.state["publishers"] == [host_client.participant_id]
        sink, ack = await watch(client, sinks)
        # Janus's stream ids are replaced by the publisher's participant id, as with the embedded engine.
        assert f"a=msid:{host_client.participant_id} " in ack["description"]["sdp"]
        viewers.append((client, sink))

    for _, sink in viewers:
        await wait_for(sink.moving_pictures, "viewers decoding the host's moving picture through an edge")
        assert sink.sizes[-1] == (WIDTH, HEIGHT)
        await wait_for(lambda sink=sink: sink.audio_frames > 10, "the host's audio")
    placement = server.app[JANUS].placement(room.session_id)
    edges = {node.config.name for node in janus_nodes if node.role == "edge"}
    assert {name.split("@")[0] for name in placement.values()} == {"edge"}
    assert len(set(placement.values())) == 2, f"two viewers, two edges, least-loaded first: {placement}"
    assert edges  # the named edges are the ones running
