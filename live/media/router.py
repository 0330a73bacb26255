"""One session's media: publishers' peer connections in, subscribers' peer connections out.

The Socket.IO layer calls `publish`, `subscribe` and `remove`, passing SDP as `{"type", "sdp"}`
dicts, and emits `media.available` from `on_tracks_changed`. Signaling is offer/answer with the
client always offering and the server answering; no trickle ICE (aiortc gathers its candidates
before answering, and the browser's offer should be sent after `icegatheringstate` is `complete`,
or carry its candidates in the SDP).

Publisher offer (`publish`): one `sendonly` (or `sendrecv`) m-line per track the publisher sends,
e.g. `addTransceiver(cameraTrack, {direction: 'sendonly'})` and the same for the microphone. Video
must offer VP8 and audio Opus (every browser does): those are the only codecs negotiated, because
a subscriber is sent exactly the bytes the publisher sent, so both sides must use the same codec.
The server never sends to a publisher; a `sendrecv` m-line is answered `recvonly`. Republishing
(same participant id, new offer) replaces the old peer connection; the i-th video (audio) track of
the new offer continues the i-th video (audio) track of the old one, so subscribers keep their
transceivers and see the new picture after its first keyframe, without renegotiating.

Subscriber offer (`subscribe`): `recvonly` m-lines, e.g. `addTransceiver('video', {direction:
'recvonly'})`. Published tracks are listed by `tracks()`: publishers in the order they first
published, each publisher's tracks in the order of its offer. The n-th video m-line of the
subscriber's offer carries the n-th published video track, the n-th audio m-line the n-th published
audio track; m-lines beyond the published tracks of their kind are answered `inactive`, and
published tracks beyond the offered m-lines are not sent. So a client that wants everything offers,
for each entry of `tracks()` (or simply one video and one audio per publisher in `publishers`, which
is what a publisher sends from a browser), one recvonly m-line of that kind, in that order. In the
browser's `track` event, `event.streams[0].id` is the publishing participant's id (the answer's
`a=msid` stream id), which is how a subscriber tells whose picture it is. When the published tracks
change (`on_tracks_changed`), the client re-subscribes with a fresh offer: that replaces its
previous subscriber connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import MediaDescription, SessionDescription

from live.errors import InvalidInput
from live.media import aiortc_private
from live.media.direct import DirectSender
from live.media.forwarder import ForwardedTrack, TrackForwarder

logger = logging.getLogger(__name__)

TracksChanged = Callable[[str], Awaitable[None]]

# The one codec per kind that publishers and subscribers negotiate (see the module docstring).
FORWARDED_CODECS = {"video": "video/VP8", "audio": "audio/opus"}
MEDIA_KINDS = ("audio", "video")
# Appended to the publisher's id as the msid stream id of a forwarded screen (see `subscribe`).
SCREEN_STREAM_SUFFIX = ":screen"
# Seconds `close()` gives in-flight `on_tracks_changed` calls before cancelling them.
CLOSE_WAIT = 1.0


@dataclass(frozen=True)
class PublishedTrack:
    participant_id: str
    kind: str
    track_id: str


@dataclass
class _Publisher:
    pc: RTCPeerConnection
    forwarders: list[TrackForwarder] = field(default_factory=list)


@dataclass
class _Subscriber:
    pc: RTCPeerConnection
    tracks: list[ForwardedTrack] = field(default_factory=list)
    senders: list[RTCRtpSender] = field(default_factory=list)


def codec_preferences(kind: str) -> list[RTCRtpCodecCapability]:
    """The forwarded codec for `kind`, plus RTX for video so losses are repaired by retransmission."""
    wanted = FORWARDED_CODECS[kind].lower()
    codecs = RTCRtpSender.getCapabilities(kind).codecs
    return [c for c in codecs if c.mimeType.lower() == wanted or c.mimeType.lower() == f"{kind}/rtx"]


def _parse_offer(participant_id: str, offer: dict[str, Any]) -> tuple[RTCSessionDescription, SessionDescription]:
    kind = offer.get("type") if isinstance(offer, dict) else None
    sdp = offer.get("sdp") if isinstance(offer, dict) else None
    if kind != "offer":
        raise InvalidInput(f"Media description type {kind!r} from {participant_id} is not 'offer'")
    if not isinstance(sdp, str) or not sdp.strip():
        raise InvalidInput(f"Media offer from {participant_id} has no SDP")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises assorted errors on malformed SDP
        raise InvalidInput(f"Media offer from {participant_id} is not valid SDP: {exc}") from exc
    if not any(m.kind in MEDIA_KINDS for m in parsed.media):
        raise InvalidInput(f"Media offer from {participant_id} has no audio or video m-line")
    return RTCSessionDescription(sdp=sdp, type="offer"), parsed


def ice_configuration(ice_servers: list[dict[str, Any]]) -> RTCConfiguration:
    servers = []
    for server in ice_servers:
        unknown = set(server) - {"urls", "username", "credential"}
        if unknown or "urls" not in server:
            raise InvalidInput(f"ICE server {server!r} needs 'urls' and only 'username'/'credential'")
        servers.append(
            RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))
        )
    # Every m-line on the first one's transport, as the offer's BUNDLE group asks. aiortc's default
    # ("balanced") gives a second m-line of a kind the transport of the first of that kind when the
    # transceiver is made, and then leaves it there when the BUNDLE group moves the first one to the
    # group's transport: a browser's second video (a screen after audio and camera) landed on a
    # transport that was closed, and its packets were routed to the camera's receiver.
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def _answer(pc: RTCPeerConnection) -> dict[str, str]:
    description = pc.localDescription
    return {"type": description.type, "sdp": description.sdp}


class MediaRouter:
    """Publishers' tracks forwarded to subscribers for one session (see the module docstring)."""

    def __init__(
        self,
        ice_servers: list[dict[str, Any]],
        on_tracks_changed: TracksChanged | None = None,
        *,
        session_id: str = "-",
    ) -> None:
        self._configuration = ice_configuration(ice_servers)
        self._on_tracks_changed = on_tracks_changed
        self._session_id = session_id
        self._publishers: dict[str, _Publisher] = {}
        # Kept across republishes, so subscribers keep their tracks; dropped on `remove`.
        self._forwarders: dict[str, list[TrackForwarder]] = {}
        self._subscribers: dict[str, _Subscriber] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def publishers(self) -> list[str]:
        return list(self._forwarders)

    @property
    def subscribers(self) -> list[str]:
        return list(self._subscribers)

    @property
    def closed(self) -> bool:
        return self._closed

    def tracks(self) -> list[PublishedTrack]:
        """Every published track, in the order `subscribe` assigns them to offered m-lines."""
        return [
            PublishedTrack(participant_id, forwarder.kind, forwarder.track_id)
            for participant_id, forwarder in self._all_forwarders()
        ]

    def forwarders(self, participant_id: str) -> list[TrackForwarder]:
        """A publisher's forwarders (for statistics and benchmarks)."""
        return list(self._forwarders.get(participant_id, []))

    def screen_publisher(self) -> str | None:
        """Who shares a screen (the first such publisher), if anyone."""
        return next((participant_id for participant_id, f in self._all_forwarders() if f.screen), None)

    async def publish(self, participant_id: str, offer: dict[str, Any], screen_mid: str | None = None) -> dict[str, str]:
        """Answer a publisher's offer; a republish replaces its previous connection.

        `screen_mid` names the offer's video m-line that carries a shared screen rather than a camera.
        """
        description, parsed = _parse_offer(participant_id, offer)
        if screen_mid is not None and not any(m.kind == "video" and m.rtp.muxId == screen_mid for m in parsed.media):
            raise InvalidInput(f"screen_mid {screen_mid!r} from {participant_id} names no video m-line of the offer")
        self._check_open()
        async with self._locks[participant_id]:
            label = f"{self._session_id}/{participant_id}"
            pc = RTCPeerConnection(self._configuration)
            media = [m for m in parsed.media if m.kind in MEDIA_KINDS]
            transceivers: list[RTCRtpTransceiver] = []
            for m in media:
                transceiver = pc.addTransceiver(m.kind, direction="recvonly")
                transceiver.setCodecPreferences(codec_preferences(m.kind))
                transceivers.append(transceiver)
            try:
                await pc.setRemoteDescription(description)
                forwarders = self._attach_sources(participant_id, label, media, transceivers, screen_mid)
                await pc.setLocalDescription(await pc.createAnswer())
                self._check_open()  # `close()` ran while this offer was being answered
            except Exception as exc:
                await pc.close()
                if self._closed:
                    for forwarder in self._forwarders.pop(participant_id, []):
                        forwarder.close()
                if isinstance(exc, InvalidInput):
                    raise
                raise InvalidInput(f"Media offer from {participant_id} cannot be answered: {exc}") from exc
            old = self._publishers.get(participant_id)
            publisher = _Publisher(pc, forwarders)
            self._publishers[participant_id] = publisher
            self._watch_publisher(participant_id, publisher)
            if old is not None:
                await old.pc.close()
                await self._stop_ended_senders()
            logger.info(
                "%s: %s %s",
                label,
                "republished" if old else "published",
                ", ".join(f.kind for f in forwarders) or "no tracks",
            )
            return _answer(pc)

    async def subscribe(self, participant_id: str, offer: dict[str, Any], *, withhold: bool = False) -> dict[str, str]:
        """Answer a subscriber's offer with the published tracks; replaces its previous connection.

        `withhold` answers every m-line `inactive` (an attendee before the session is live): the
        connection is made, nothing is sent on it, and a later subscribe replaces it.
        """
        description, parsed = _parse_offer(participant_id, offer)
        self._check_open()
        async with self._locks[participant_id]:
            label = f"{self._session_id}/{participant_id}"
            pc = RTCPeerConnection(self._configuration)
            # Everyone else's tracks: a publisher who also watches (a host seeing a speaker, a speaker
            # seeing the host) is not sent their own picture back, which would take the m-line meant
            # for someone else's.
            others = [f for publisher, f in self._all_forwarders() if publisher != participant_id]
            available = {kind: [] if withhold else [f for f in others if f.kind == kind] for kind in MEDIA_KINDS}
            subscriber = _Subscriber(pc)
            # Transceivers created here, in m-line order per kind, are the ones setRemoteDescription
            # matches to the offer's m-lines of that kind; any further m-lines get aiortc's own
            # recvonly transceivers, which answer `inactive` to a recvonly offer.
            for m in parsed.media:
                if m.kind not in MEDIA_KINDS or not available[m.kind]:
                    continue
                forwarder = available[m.kind].pop(0)
                track = forwarder.subscribe()
                transceiver = pc.addTransceiver(track, direction="sendonly")
                transceiver.setCodecPreferences(codec_preferences(m.kind))
                sender = transceiver.sender
                # The msid stream id names the publisher, so the browser knows whose track it is; a
                # shared screen is a stream of its own, `<publisher>:screen`, shown large by pages.
                aiortc_private.set_stream_id(
                    sender, forwarder.publisher_id + (SCREEN_STREAM_SUFFIX if forwarder.screen else "")
                )
                # Frames arrive already packed into RTP payloads, shared by every subscriber, and
                # the forwarder sends them itself; a PLI/FIR goes to the shared source.
                DirectSender.install(sender, track)
                subscriber.tracks.append(track)
                subscriber.senders.append(sender)
            try:
                await pc.setRemoteDescription(description)
                await pc.setLocalDescription(await pc.createAnswer())
                self._check_open()  # `close()` ran while this offer was being answered
            except Exception as exc:
                await self._close_subscriber(subscriber)
                if isinstance(exc, InvalidInput):
                    raise
                raise InvalidInput(f"Media offer from {participant_id} cannot be answered: {exc}") from exc
            old = self._subscribers.get(participant_id)
            self._subscribers[participant_id] = subscriber
            self._watch_subscriber(participant_id, subscriber)
            if old is not None:
                await self._close_subscriber(old)
            logger.info("%s: %s to %d tracks", label, "resubscribed" if old else "subscribed", len(subscriber.tracks))
            return _answer(pc)

    async def remove(self, participant_id: str) -> None:
        """A participant left: close its publisher and subscriber connections, if any."""
        async with self._locks[participant_id]:
            await self._remove_publisher(participant_id)
            subscriber = self._subscribers.pop(participant_id, None)
            if subscriber is not None:
                await self._close_subscriber(subscriber)
                logger.info("%s/%s: unsubscribed", self._session_id, participant_id)

    async def unpublish(self, participant_id: str) -> None:
        """Stop forwarding a participant's tracks (a revoked speaker); their subscription stays."""
        async with self._locks[participant_id]:
            await self._remove_publisher(participant_id)

    async def close(self) -> None:
        """Close every connection (session ended or server shutting down)."""
        self._closed = True
        for participant_id in list(self._forwarders):
            await self._remove_publisher(participant_id, notify=False)
        for subscriber in list(self._subscribers.values()):
            await self._close_subscriber(subscriber)
        self._subscribers.clear()
        # Let notifications already under way (a publisher that just left) reach the room first.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=CLOSE_WAIT)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _all_forwarders(self) -> Iterator[tuple[str, TrackForwarder]]:
        for participant_id, forwarders in self._forwarders.items():
            for forwarder in forwarders:
                yield participant_id, forwarder

    def _attach_sources(
        self,
        participant_id: str,
        label: str,
        media: list[MediaDescription],
        transceivers: list[RTCRtpTransceiver],
        screen_mid: str | None = None,
    ) -> list[TrackForwarder]:
        """Point this publisher's forwarders at the new receivers, reusing them by role (camera, screen,
        audio) and order: a republish without the screen ends the screen's forwarder, not the camera's."""
        roles = [(kind, screen) for kind in MEDIA_KINDS for screen in (False, True)]
        previous = {
            role: [f for f in self._forwarders.get(participant_id, []) if (f.kind, f.screen) == role] for role in roles
        }
        counts = dict.fromkeys(roles, 0)
        forwarders: list[TrackForwarder] = []
        for m, transceiver in zip(media, transceivers, strict=True):
            if transceiver.direction == "inactive" or m.direction not in ("sendonly", "sendrecv"):
                continue
            role = (m.kind, m.kind == "video" and screen_mid is not None and m.rtp.muxId == screen_mid)
            index = counts[role]
            counts[role] += 1
            if previous[role]:
                forwarder = previous[role].pop(0)
            else:
                name = "screen" if role[1] else m.kind
                track_id = f"{participant_id}-{name}-{index}"
                forwarder = TrackForwarder(
                    m.kind, track_id, participant_id, f"{label}/{name}{index}", screen=role[1]
                )
            ssrc = m.ssrc[0].ssrc if m.ssrc else None
            forwarder.attach(transceiver.receiver, ssrc)
            forwarders.append(forwarder)
        for leftover in previous.values():
            for forwarder in leftover:
                forwarder.close()
        self._forwarders[participant_id] = forwarders
        return forwarders

    def _watch_publisher(self, participant_id: str, publisher: _Publisher) -> None:
        pc = publisher.pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if self._publishers.get(participant_id) is not publisher:
                return
            state = pc.connectionState
            logger.info("%s/%s: publisher connection %s", self._session_id, participant_id, state)
            if state == "connected":
                self._notify(participant_id)
            elif state in ("failed", "closed"):
                self._spawn(self._drop_publisher(participant_id, publisher))

    def _watch_subscriber(self, participant_id: str, subscriber: _Subscriber) -> None:
        pc = subscriber.pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if self._subscribers.get(participant_id) is not subscriber:
                return
            state = pc.connectionState
            logger.info("%s/%s: subscriber connection %s", self._session_id, participant_id, state)
            if state in ("failed", "closed"):
                self._spawn(self._drop_subscriber(participant_id, subscriber))

    async def _drop_publisher(self, participant_id: str, publisher: _Publisher) -> None:
        async with self._locks[participant_id]:
            if self._publishers.get(participant_id) is publisher:
                await self._remove_publisher(participant_id)

    async def _drop_subscriber(self, participant_id: str, subscriber: _Subscriber) -> None:
        async with self._locks[participant_id]:
            if self._subscribers.get(participant_id) is subscriber:
                del self._subscribers[participant_id]
                await self._close_subscriber(subscriber)

    async def _remove_publisher(self, participant_id: str, *, notify: bool = True) -> None:
        publisher = self._publishers.pop(participant_id, None)
        forwarders = self._forwarders.pop(participant_id, [])
        for forwarder in forwarders:
            forwarder.close()
        if publisher is not None:
            await publisher.pc.close()
        await self._stop_ended_senders()
        if publisher is not None or forwarders:
            logger.info("%s/%s: unpublished", self._session_id, participant_id)
            if notify:
                self._notify(participant_id)

    async def _stop_ended_senders(self) -> None:
        """Stop subscribers' senders whose published track is gone.

        The sender's RTP loop ends by itself when its track ends, but only `stop()` sends the RTCP
        BYE that tells the subscriber the track has ended (until then it just sees no frames).
        """
        for subscriber in list(self._subscribers.values()):
            for track, sender in zip(subscriber.tracks, subscriber.senders, strict=True):
                if track.forwarder.closed:
                    await sender.stop()

    async def _close_subscriber(self, subscriber: _Subscriber) -> None:
        for track in subscriber.tracks:
            track.stop()
        await subscriber.pc.close()

    def _notify(self, participant_id: str) -> None:
        if self._on_tracks_changed is not None and not self._closed:
            self._spawn(self._on_tracks_changed(participant_id))

    def _spawn(self, coroutine: Coroutine[Any, Any, None] | Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: media task failed", self._session_id)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidInput(f"Media for session {self._session_id} is closed")
