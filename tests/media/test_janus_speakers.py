"""Speakers from the audience on real Janus nodes (one origin, one edge, shared by the module).

An aiortc host and an invited attendee who accepted both publish into the origin room; a viewer on
the edge receives both pictures; a revoke (and a decline) takes the speaker's stream off every node,
and the viewer's next subscription carries only the host's.
"""

from __future__ import annotations

from typing import Any

from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription

from live.media.janus.handlers import JANUS
from tests.conftest import ServerFactory
from tests.media.janus_support import JanusNode
from tests.media.support import TIMEOUT, MovingPicture, Sink, offer_of, wait_for
from tests.media.test_janus import janus_server, publish, watch, webinar
from tests.media.test_janus_webinar import msids_by_mid
from tests.rooms.support import Client, connect

# The speaker's camera is smaller than the host's (640x480): which picture arrives on which m-line shows whose it is.
SPEAKER_SIZE = (320, 240)
HOST_SIZE = (640, 480)


async def speak(client: Client, sinks: list[Sink]) -> dict[str, Any]:
    """Publishes a small camera and a microphone, as an accepted speaker's page does; returns the ack."""
    pc = RTCPeerConnection()
    sinks.append(Sink(pc))
    pc.addTransceiver(MovingPicture(brightness=180, width=SPEAKER_SIZE[0], height=SPEAKER_SIZE[1]), direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    ack: dict[str, Any] = await client.call("media.publish", {"description": await offer_of(pc)}, wait=TIMEOUT)
    if ack.get("ok"):
        await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
    return ack


async def test_an_invited_speaker_publishes_through_janus_to_edge_viewers_until_revoked_or_declining(
    make_server: ServerFactory, sqlite_url: str, janus_pair: list[JanusNode], clients: list[Client], sinks: list[Sink]
) -> None:
    server = await janus_server(make_server, sqlite_url, janus_pair)
    host, room = await webinar(server, guests=2)
    host_client = await connect(server.url, host.token, room.session_id)
    clients.append(host_client)
    host_id = host_client.participant_id
    assert (await host_client.call("session.start", {}))["ok"] is True
    await publish(host_client, sinks)
    await host_client.next_where("media.available", wait=TIMEOUT, participant_id=host_id)

    speaker = await connect(server.url, room.guests[0].token, room.session_id)
    clients.append(speaker)
    speaker_id = speaker.participant_id
    assert speaker.state["speakers"] == [] and speaker.state["media"] == "janus"
    refused = await speak(speaker, sinks)  # not invited: an attendee does not publish
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden", refused

    invited = await host_client.call("speaker.invite", {"participant_id": speaker_id})
    assert invited == {"ok": True, "changed": True}
    await speaker.next_where("speaker.invited", participant_id=speaker_id)
    assert await speaker.call("speaker.accept", {}) == {"ok": True, "changed": True}
    assert (await speak(speaker, sinks))["ok"] is True
    await host_client.next_where("media.available", wait=TIMEOUT, participant_id=speaker_id)
    assert sorted(server.app[JANUS].publishers(room.session_id)) == sorted([host_id, speaker_id])

    # A viewer on the edge gets both publishers' pictures, each named by its publisher.
    viewer = await connect(server.url, room.guests[1].token, room.session_id)
    clients.append(viewer)
    sink, ack = await watch(viewer, sinks)
    streams = msids_by_mid(ack["description"]["sdp"])
    assert sorted(streams.values()) == sorted([host_id, host_id, speaker_id, speaker_id]), streams
    assert server.app[JANUS].placement(room.session_id)[viewer.participant_id].startswith("edge@")
    host_mids = [mid for mid, who in streams.items() if who == host_id]
    speaker_mids = [mid for mid, who in streams.items() if who == speaker_id]
    await wait_for(
        lambda: any(SPEAKER_SIZE in sink.sizes_by_mid.get(mid, set()) for mid in speaker_mids)
        and any(HOST_SIZE in sink.sizes_by_mid.get(mid, set()) for mid in host_mids),
        "the host's and the speaker's pictures at a viewer on the edge",
    )
    # The host watching gets the speaker, not themselves (and the speaker the host).
    _, host_view = await watch(host_client, sinks)
    assert set(msids_by_mid(host_view["description"]["sdp"]).values()) == {speaker_id}
    _, speaker_view = await watch(speaker, sinks)
    assert set(msids_by_mid(speaker_view["description"]["sdp"]).values()) == {host_id}

    # A revoke takes the speaker off the origin and the edge; the viewer is told and subscribes again.
    assert await host_client.call("speaker.revoke", {"participant_id": speaker_id}) == {"ok": True, "changed": True}
    assert server.app[JANUS].publishers(room.session_id) == [host_id]
    await viewer.next_where("media.available", wait=TIMEOUT, participant_id=speaker_id)
    again, ack = await watch(viewer, sinks)
    assert set(msids_by_mid(ack["description"]["sdp"]).values()) == {host_id}
    await wait_for(again.moving_pictures, "the host's pictures at the viewer after the revoke")
    assert set(again.sizes) == {HOST_SIZE}
    after = await speak(speaker, sinks)
    assert after["ok"] is False and after["error"]["code"] == "forbidden", after

    # Invited again, the speaker publishes again and then steps down themselves: off Janus as well.
    await host_client.call("speaker.invite", {"participant_id": speaker_id})
    assert await speaker.call("speaker.accept", {}) == {"ok": True, "changed": True}
    assert (await speak(speaker, sinks))["ok"] is True
    await viewer.next_where("media.available", wait=TIMEOUT, participant_id=speaker_id)
    assert sorted(server.app[JANUS].publishers(room.session_id)) == sorted([host_id, speaker_id])
    assert await speaker.call("speaker.decline", {}) == {"ok": True, "changed": True}
    assert server.app[JANUS].publishers(room.session_id) == [host_id]
    await viewer.next_where("media.available", wait=TIMEOUT, participant_id=speaker_id)
    _, ack = await watch(viewer, sinks)
    assert set(msids_by_mid(ack["description"]["sdp"]).values()) == {host_id}
