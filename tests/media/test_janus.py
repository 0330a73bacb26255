"""Webinar media on real Janus nodes (origin and edges): real aiortc publisher and viewers, real Socket.IO signaling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from live.media.events import AnswerAck
from live.media.janus.client import VIDEOROOM
from live.media.janus.handlers import JANUS
from live.media.janus.model import NodeSpec
from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff
from tests.media.janus_support import JanusNode, ensure_running, module_nodes, running_nodes
from tests.media.support import HEIGHT, TIMEOUT, WIDTH, MovingPicture, Sink, answer_of, offer_of, wait_for
from tests.rooms.support import Client, Room, connect, make_room


@pytest.fixture(scope="module")
def shared_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[JanusNode]]:
    """An origin and two edges, each a real `janus` process on its own ports, for the whole module."""
    with module_nodes(tmp_path_factory.mktemp("janus"), ("origin", "edge", "edge")) as nodes:
        yield nodes


@pytest.fixture
async def janus_nodes(shared_nodes: list[JanusNode]) -> list[JanusNode]:
    """The module's nodes, each running: a node a test killed is started again (empty, on its ports).

    Every test's server destroys its rooms when it stops, so each test starts with empty nodes."""
    return await ensure_running(shared_nodes)


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
    assert (await host_client.call("session.start", {}))["ok"] is True  # the audience is held back before
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


async def live_rooms(node: JanusNode) -> list[str]:
    return [str(room["description"]) for room in await node.rooms() if str(room.get("description", "")).startswith("live:")]


async def test_viewers_of_an_edge_that_dies_resubscribe_to_the_other_edge_and_the_edge_is_used_again_when_back(
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
    assert (await host_client.call("session.start", {}))["ok"] is True  # the audience is held back before
    await publish(host_client, sinks)
    viewer = await connect(server.url, room.guests[0].token, room.session_id)
    clients.append(viewer)
    sink, _ = await watch(viewer, sinks)
    await wait_for(sink.moving_pictures, "the viewer's first pictures")
    first_edge = server.app[JANUS].placement(room.session_id)[viewer.participant_id]
    dying = next(node for node in janus_nodes if f"edge@127.0.0.1:{node.config.api_port}" == first_edge)

    await dying.kill()
    # The page's reaction to `media.available` is to subscribe again; the engine places it elsewhere.
    await viewer.next_where("media.available", wait=TIMEOUT, participant_id=host_client.participant_id)
    again, _ = await watch(viewer, sinks)
    await wait_for(again.moving_pictures, "pictures again after the edge died")
    second_edge = server.app[JANUS].placement(room.session_id)[viewer.participant_id]
    assert second_edge.startswith("edge@") and second_edge != first_edge
    assert not server.app[JANUS].node_up(first_edge)
    # The origin no longer forwards to the dead edge.
    origin = janus_nodes[0]
    assert len(await live_rooms(origin)) == 1

    # Back up (empty, as after a restart): the running webinar is cascaded to it again, and the
    # next viewer, placed on the least-loaded edge, watches from it.
    await dying.start()
    await wait_for(lambda: server.app[JANUS].node_up(first_edge), "the app to reconnect to the edge")
    await wait_for(lambda: first_edge in server.app[JANUS].rooms_on(room.session_id), "the cascade to the edge")
    newcomer = await connect(server.url, room.guests[1].token, room.session_id)
    clients.append(newcomer)
    third, _ = await watch(newcomer, sinks)
    await wait_for(third.moving_pictures, "pictures from the edge that came back")
    assert server.app[JANUS].placement(room.session_id)[newcomer.participant_id] == first_edge


async def test_ending_the_session_destroys_its_rooms_on_the_origin_and_every_edge(
    make_server: ServerFactory,
    sqlite_url: str,
    janus_nodes: list[JanusNode],
    clients: list[Client],
    sinks: list[Sink],
) -> None:
    server = await janus_server(make_server, sqlite_url, janus_nodes)
    host, room = await webinar(server, guests=1)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    assert (await host_client.call("session.start", {}))["ok"] is True
    await publish(host_client, sinks)
    viewer = await connect(server.url, room.guests[0].token, room.session_id)
    clients.append(viewer)
    sink, _ = await watch(viewer, sinks)
    await wait_for(sink.moving_pictures, "the viewer's pictures")
    for node in janus_nodes:
        assert await live_rooms(node) != [], f"{node.config.name} has the webinar's room"

    assert (await host_client.call("session.end", {}))["ok"] is True
    await wait_for(lambda: server.app[JANUS].publishers(room.session_id) == [], "the session's media to end")
    for node in janus_nodes:
        assert await live_rooms(node) == [], f"{node.config.name} still has the webinar's room"
    await wait_for(lambda: sink.pc.connectionState in ("closed", "failed"), "the viewer's connection to end")


async def test_rooms_left_by_a_crashed_app_are_destroyed_when_the_app_starts(
    make_server: ServerFactory, sqlite_url: str, janus_nodes: list[JanusNode]
) -> None:
    # What a crashed app leaves: a `live:` room whose owning Janus session has expired.
    origin = janus_nodes[0]
    async with aiohttp.ClientSession() as http:
        async with http.post(origin.url, json={"janus": "create", "transaction": "t1"}) as resp:
            sid = (await resp.json(content_type=None))["data"]["id"]
        async with http.post(f"{origin.url}/{sid}", json={"janus": "attach", "plugin": VIDEOROOM, "transaction": "t2"}) as resp:
            hid = (await resp.json(content_type=None))["data"]["id"]
        body = {"request": "create", "room": 4242, "description": "live:crashed-session:1234"}
        async with http.post(f"{origin.url}/{sid}/{hid}", json={"janus": "message", "body": body, "transaction": "t3"}):
            pass
        async with http.post(f"{origin.url}/{sid}", json={"janus": "destroy", "transaction": "t4"}):
            pass
    assert await live_rooms(origin) == ["live:crashed-session:1234"]

    await janus_server(make_server, sqlite_url, janus_nodes)
    # The engine sweeps in the background as it starts (the app does not wait for Janus to serve).
    deadline = time.monotonic() + TIMEOUT
    left = await live_rooms(origin)
    for _ in range(int(TIMEOUT / 0.1)):
        if not left or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
        left = await live_rooms(origin)
    assert left == []


async def test_going_live_while_the_origin_is_down_is_refused_with_a_clear_error(
    make_server: ServerFactory,
    sqlite_url: str,
    janus_nodes: list[JanusNode],
    clients: list[Client],
    sinks: list[Sink],
) -> None:
    await janus_nodes[0].kill()
    server = await janus_server(make_server, sqlite_url, janus_nodes)
    host, room = await webinar(server, guests=0)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    pc = RTCPeerConnection()
    sinks.append(Sink(pc))
    pc.addTransceiver(MovingPicture(), direction="sendonly")
    ack = await host_client.call("media.publish", {"description": await offer_of(pc)}, wait=TIMEOUT)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "media_unavailable"
    assert janus_nodes[0].url in ack["error"]["message"]


async def test_the_origin_dying_tells_everyone_and_video_is_back_when_the_host_publishes_again(
    make_server: ServerFactory,
    sqlite_url: str,
    janus_nodes: list[JanusNode],
    clients: list[Client],
    sinks: list[Sink],
) -> None:
    server = await janus_server(make_server, sqlite_url, janus_nodes)
    host, room = await webinar(server, guests=1)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    assert (await host_client.call("session.start", {}))["ok"] is True  # the audience is held back before
    await publish(host_client, sinks)
    viewer = await connect(server.url, room.guests[0].token, room.session_id)
    clients.append(viewer)
    sink, _ = await watch(viewer, sinks)
    await wait_for(sink.moving_pictures, "the viewer's first pictures")

    origin = janus_nodes[0]
    await origin.kill()
    for client in (host_client, viewer):
        told = await client.next("media.unavailable", wait=TIMEOUT)
        assert told["reason"] == "media_server_down"
        assert "video" in told["message"]
    for node in janus_nodes[1:]:
        assert await live_rooms(node) == [], "edge rooms of the lost origin are destroyed"

    await origin.start()
    origin_name = f"origin@127.0.0.1:{origin.config.api_port}"
    await wait_for(lambda: server.app[JANUS].node_up(origin_name), "the app to reconnect to the origin")
    await publish(host_client, sinks)
    await viewer.next_where("media.available", wait=TIMEOUT, participant_id=host_client.participant_id)
    again, _ = await watch(viewer, sinks)
    await wait_for(again.moving_pictures, "pictures again after the host republished")


async def test_janus_signaling_refuses_what_it_cannot_do_with_reasons(
    make_server: ServerFactory, sqlite_url: str, tmp_path: Path, clients: list[Client], sinks: list[Sink]
) -> None:
    async with running_nodes(tmp_path, ("origin",)) as nodes:
        server = await janus_server(make_server, sqlite_url, nodes)
        host, room = await webinar(server, guests=1)
        host_client = await connect(server.url, host.token, room.session_id)
        clients.append(host_client)
        junk = {"type": "offer", "sdp": "v=0\r\nm=video 9 nothing\r\n"}
        refused_sdp = await host_client.call("media.publish", {"description": junk}, wait=TIMEOUT)
        assert refused_sdp["ok"] is False and refused_sdp["error"]["code"] == "invalid", refused_sdp
        assert "Janus" in refused_sdp["error"]["message"]
        assert await live_rooms(nodes[0]) == [], "a refused first offer leaves no room behind"
        attendee = await connect(server.url, room.guests[0].token, room.session_id)
        clients.append(attendee)
        pc = RTCPeerConnection()
        sinks.append(Sink(pc))
        pc.addTransceiver(MovingPicture(), direction="sendonly")
        offer = await offer_of(pc)

        refused = await attendee.call("media.publish", {"description": offer}, wait=TIMEOUT)
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
        early = await attendee.call("media.subscribe", {}, wait=TIMEOUT)
        assert early["ok"] is False and early["error"]["code"] == "no_media"
        own_offer = await attendee.call("media.subscribe", {"description": offer}, wait=TIMEOUT)
        assert own_offer["ok"] is False and "media.answer" in own_offer["error"]["message"]
        stray = await attendee.call("media.answer", {"description": {"type": "answer", "sdp": "v=0"}}, wait=TIMEOUT)
        assert stray["ok"] is False and "media.subscribe" in stray["error"]["message"]
        junk = await attendee.call("media.answer", {"description": {"type": "offer"}}, wait=TIMEOUT)
        assert junk["ok"] is False and junk["error"]["code"] == "invalid"
        assert await live_rooms(nodes[0]) == []
