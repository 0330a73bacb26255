"""Webinar media on Janus: an origin VideoRoom per session, cascaded to edge nodes, viewers on the least-loaded edge.

Why Janus: the embedded forwarder serves one webinar from one process (~400 viewers per core). Past
that, the same `media.publish` / `media.subscribe` events drive Janus (Debian's `janus` 1.1.2,
VideoRoom plugin, HTTP API) instead; the browser talks only to the app's Socket.IO and to Janus's
media ports, never to Janus's API.

Shape of one webinar (`_Webinar`):
- On the origin node, a VideoRoom numbered `room`, described `live:<session id>:<owner>` where
  `<owner>` is this process's Janus session id on the origin (see "Teardown"). Each publisher
  (host, co-host, a speaker from the audience) joins it with its own handle (`joinandconfigure` carrying the browser's offer;
  Janus answers).
- On every edge node, a room with the same number. Each publisher is cascaded to it with
  VideoRoom's remote publishers (Janus >= 1.1): `add_remote_publisher` on the edge opens a plain
  RTP port for it and returns that port, then `publish_remotely` on the origin forwards the
  publisher's streams there, with RTCP back so an edge's keyframe requests (PLI) reach the publisher.
  The remote publisher keeps the origin's feed id, so a feed means the same person everywhere.
- Each viewer is placed on the edge with the fewest viewers (of this process) when it subscribes;
  with no edge configured (or none up), on the origin.

Like the embedded engine: a publisher's `screen_mid` marks its screen, which viewers get as the stream
`<publisher>:screen` (`stream_names`; the cascade keeps the publisher's mids, so `feed_mid` means the
same on every node); a speaker's turn ending takes their publisher off every node (`unpublish`);
a publisher who watches is not sent their own feed (`viewed_feeds`); an attendee subscribing before the session is live is held back (Janus is told
to relay nothing, `configure {send: false}`, until `started`); and a recording follows the room's
tracks, through a `RecordingTap` (an aiortc subscriber of the origin room in this process, made
again whenever the publishers change; see `live.media.janus.tap` for why not Janus's recorder).

Signaling differs from the embedded engine in one way: a VideoRoom subscriber never offers, Janus
does. So a viewer sends `media.subscribe` without a description and gets Janus's *offer* in the ack,
then sends its answer with `media.answer` (see docs/protocol.md). Stream ids (`a=msid`) in that offer
are rewritten to the publishing participant's id, as the embedded engine's answers carry.

Faults:
- An edge that dies fails its long-poll at once (see `live.media.janus.client`): its viewers are
  told `media.available` (the event that already makes a viewer re-subscribe), their next
  `media.subscribe` lands on another edge, and the origin's forwards to the dead edge are removed.
  The node is retried every `RETRY_INTERVAL`; once back, the running webinars are cascaded to it
  again and it takes new viewers.
- The origin dying ends every webinar's video: everyone gets `media.unavailable` with a message, the
  edge rooms are destroyed, and the next `media.publish` (the host republishing) starts over once
  the origin answers again.
- Janus down when a host goes live: `media.publish` is refused with `media_unavailable` (503). The
  app does not fall back to the embedded engine: a deployment that chose Janus did so because one
  process cannot carry the audience, and an embedded router would reach only the viewers of the
  process the host happens to be on.

Teardown: a session's rooms (and its recording tap) are destroyed on every node when it ends, when
its last participant with media leaves, and on shutdown. A crashed app leaves rooms behind, but its Janus sessions expire
(the node's `session_timeout`), which hangs up their peers; every running engine sweeps, at start and
every `SWEEP_INTERVAL`, the `live:` rooms whose owner session no longer exists on the origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from live.errors import InvalidInput, LiveError
from live.media.events import MediaAvailable
from live.media.janus.client import Handle, JanusRequestError, JanusSession, JanusUnavailable
from live.media.janus.events import MediaUnavailableOut
from live.media.janus.model import NodeSpec
from live.media.janus.tap import RecordingTap
from live.media.router import SCREEN_STREAM_SUFFIX
from live.rooms.server_events import ServerEvent

logger = logging.getLogger(__name__)

# Seconds between attempts to reach a node that is down.
RETRY_INTERVAL = 1.0
# Seconds between sweeps for rooms a crashed app left behind.
SWEEP_INTERVAL = 30.0
# Room and feed numbers stay below 2**53 so that JavaScript and JSON tools read them exactly.
_MAX_ID = 2**52
# Janus numbers each publisher stream; the SDP m-line kinds it accepts from a remote publisher.
_STREAM_TYPES = {"audio": "audio", "video": "video", "application": "data"}
_CODECS = {"audio": "opus", "video": "vp8"}

# Sends an outbound event to one connection (sid) or to a whole session (session id); see live.media.janus.handlers.
Emit = Callable[[ServerEvent, str], Awaitable[None]]


class MediaUnavailable(LiveError):
    """The media server does not answer."""

    code = "media_unavailable"
    status = 503


class NoMedia(LiveError):
    """A viewer asked for media before anyone published."""

    code = "no_media"
    status = 409


@dataclass
class _Node:
    spec: NodeSpec
    session: JanusSession | None = None
    control: Handle | None = None

    @property
    def up(self) -> bool:
        return self.session is not None and not self.session.lost

    def admin(self, body: dict[str, Any]) -> dict[str, Any]:
        """A VideoRoom request guarded by the room's admin key (creating rooms, forwarding)."""
        return {**body, "admin_key": self.spec.admin_key} if self.spec.admin_key else body


@dataclass
class _Publisher:
    participant_id: str
    feed: int
    handle: Handle
    # (type, codec) per m-line of the publisher's offer, in order: Janus's stream `mindex`.
    streams: list[tuple[str, str | None]]
    # The `a=mid` of each m-line, in order: the cascade gives the edges' remote publishers the same
    # mids, so a subscriber's `feed_mid` names the same stream on every node.
    mids: list[str] = field(default_factory=list)
    # The mid of the video m-line carrying a shared screen (`media.publish {screen_mid}`), if any.
    screen_mid: str | None = None
    sids: set[str] = field(default_factory=set)
    # Edge node name -> the remote publisher made there.
    remotes: set[str] = field(default_factory=set)


@dataclass
class _Viewer:
    participant_id: str
    handle: Handle
    node: str
    sids: set[str] = field(default_factory=set)
    # An attendee subscribed before the session went live: Janus relays nothing to it until then.
    held: bool = False


@dataclass
class _Webinar:
    session_id: str
    room: int
    rooms_on: set[str] = field(default_factory=set)  # node names where the room exists
    publishers: dict[str, _Publisher] = field(default_factory=dict)
    viewers: dict[str, _Viewer] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Set by `started`: from then on nobody subscribing is held back (closes the race with a
    # subscription whose status was read just before the session went live).
    live: bool = False


def offer_streams(sdp: str) -> list[tuple[str, str | None]]:
    """(Janus stream type, codec) for each m-line of a publisher's offer, in order."""
    streams = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
            streams.append((_STREAM_TYPES.get(kind, "data"), _CODECS.get(kind)))
    return streams


def offer_mids(sdp: str) -> list[str]:
    """The `a=mid` of each m-line of an offer, in order (its index where an m-line has none)."""
    mids: list[str | None] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            mids.append(None)
        elif line.startswith("a=mid:") and mids and mids[-1] is None:
            mids[-1] = line[len("a=mid:") :].strip()
    return [mid if mid is not None else str(index) for index, mid in enumerate(mids)]


def check_screen_mid(participant_id: str, sdp: str, screen_mid: str | None) -> None:
    """`screen_mid` must name a video m-line of the publisher's offer."""
    if screen_mid is None:
        return
    videos = [mid for mid, (kind, _) in zip(offer_mids(sdp), offer_streams(sdp), strict=True) if kind == "video"]
    if screen_mid not in videos:
        raise InvalidInput(f"screen_mid {screen_mid!r} from {participant_id} names no video m-line of the offer")


def stream_names(streams: list[dict[str, Any]], feeds: dict[int, tuple[str, str | None]]) -> dict[str, str]:
    """Subscriber mid -> the msid stream id a page sees: the publisher's participant id, and
    `<participant id>:screen` for its shared screen (as the embedded engine names them).

    `streams` is the VideoRoom's description of a subscription (`mid`, `feed_id`, `feed_mid` per
    stream); `feeds` maps each publisher's feed id to (participant id, screen mid or None).
    """
    names: dict[str, str] = {}
    for stream in streams:
        feed = int(stream.get("feed_id", 0) or 0)
        if "mid" not in stream or feed not in feeds:
            continue
        participant_id, screen_mid = feeds[feed]
        screen = screen_mid is not None and str(stream.get("feed_mid")) == screen_mid and stream.get("type") == "video"
        names[str(stream["mid"])] = participant_id + (SCREEN_STREAM_SUFFIX if screen else "")
    return names


def viewed_feeds(publishers: Iterable[_Publisher], viewer: str) -> dict[int, tuple[str, str | None]]:
    """Feed id -> (participant id, screen mid) of the publishers `viewer` is sent.

    A publisher who also watches (a host seeing a speaker, a speaker seeing the host) is never sent
    their own tracks, as with the embedded engine: the page shows its own camera locally, and a tile
    of oneself coming back from the server would be a second, delayed self-view. Empty when nobody
    else publishes (`no_media`: a VideoRoom subscription needs at least one stream).
    """
    return {p.feed: (p.participant_id, p.screen_mid) for p in publishers if p.participant_id != viewer}


def rename_streams(sdp: str, names: dict[str, str]) -> str:
    """Sets each m-line's `a=msid` stream id to `names[mid]` (the publishing participant's id)."""
    out: list[str] = []
    mid: str | None = None
    lines = sdp.split("\r\n")
    # The mid of each m-section, found first because `a=mid` may follow `a=msid`.
    section_mids: list[str | None] = []
    for line in lines:
        if line.startswith("m="):
            section_mids.append(None)
        elif line.startswith("a=mid:") and section_mids:
            section_mids[-1] = line[len("a=mid:") :]
    section = -1
    for line in lines:
        if line.startswith("m="):
            section += 1
            mid = section_mids[section]
        if line.startswith("a=msid:") and mid in names:
            track = line.split(" ", 1)[1] if " " in line else f"{names[mid]}-{mid}"
            line = f"a=msid:{names[mid]} {track}"
        elif line.startswith("a=ssrc:") and " msid:" in line and mid in names:
            line = re.sub(r" msid:\S+", f" msid:{names[mid]}", line)
        out.append(line)
    return "\r\n".join(out)


class JanusMedia:
    """Every live webinar's Janus rooms, publishers and viewers in this process (see the module docstring)."""

    def __init__(self, nodes: list[NodeSpec], emit: Emit, emit_to_session: Emit) -> None:
        self._specs = nodes
        self._emit = emit
        self._emit_to_session = emit_to_session
        self._nodes: dict[str, _Node] = {spec.name: _Node(spec) for spec in nodes}
        self._origin = next(node for node in self._nodes.values() if node.spec.role == "origin")
        self._webinars: dict[str, _Webinar] = {}
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # Recording (see `open_source`): the sessions being recorded and their taps on the origin.
        self.listeners: list[Callable[[str], None]] = []
        self._recorded: set[str] = set()
        self._taps: dict[str, RecordingTap] = {}
        self._tap_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- lifetime ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        for node in self._nodes.values():
            await self._connect(node)
            if not node.up:
                self._spawn(self._reconnect(node))
        self._spawn(self._sweep_forever())

    async def close(self) -> None:
        self._closed = True
        for session_id in list(self._webinars):
            await self.end(session_id)
        for session_id in list(self._taps):
            await self._untap(session_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for node in self._nodes.values():
            if node.session is not None:
                await node.session.destroy()
        if self._http is not None:
            await self._http.close()

    def node_up(self, name: str) -> bool:
        return self._nodes[name].up

    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    # --- what the handlers call -------------------------------------------------------------
    def publishers(self, session_id: str) -> list[str]:
        webinar = self._webinars.get(session_id)
        return list(webinar.publishers) if webinar is not None else []

    def rooms_on(self, session_id: str) -> list[str]:
        """The nodes that have the session's room (the origin and every edge it is cascaded to)."""
        webinar = self._webinars.get(session_id)
        return sorted(webinar.rooms_on) if webinar is not None else []

    def screen(self, session_id: str) -> str | None:
        """Who shares a screen (the first such publisher), if anyone."""
        webinar = self._webinars.get(session_id)
        publishers = webinar.publishers.values() if webinar is not None else []
        return next((p.participant_id for p in publishers if p.screen_mid is not None), None)

    def held(self, session_id: str) -> list[str]:
        """Viewers to whom Janus relays nothing yet (attendees before the session went live)."""
        webinar = self._webinars.get(session_id)
        return [v.participant_id for v in webinar.viewers.values() if v.held] if webinar is not None else []

    def placement(self, session_id: str) -> dict[str, str]:
        """Viewer participant id -> the node it watches from (for operators and tests)."""
        webinar = self._webinars.get(session_id)
        return {v.participant_id: v.node for v in webinar.viewers.values()} if webinar is not None else {}

    async def publish(
        self, session_id: str, participant_id: str, sid: str, offer: dict[str, Any], screen_mid: str | None = None
    ) -> dict[str, str]:
        sdp = _offer_sdp(participant_id, offer)
        check_screen_mid(participant_id, sdp, screen_mid)
        origin = self._require_origin()
        webinar = self._webinars.setdefault(session_id, _Webinar(session_id, secrets.randbelow(_MAX_ID - 1) + 1))
        try:
            async with webinar.lock:
                await self._ensure_room(webinar, origin)
                old = webinar.publishers.pop(participant_id, None)
                if old is not None:  # a republish replaces the previous connection
                    await self._unpublish(webinar, old)
                publisher, answer = await self._join_publisher(webinar, origin, participant_id, sdp)
                publisher.screen_mid = screen_mid
                publisher.sids.add(sid)
                webinar.publishers[participant_id] = publisher
                for node in self._edges():
                    await self._cascade(webinar, publisher, node)
                return answer
        except (JanusUnavailable, JanusRequestError) as exc:
            if not webinar.publishers and not webinar.viewers:
                await self.end(session_id)  # a refused first offer leaves no room behind
            if isinstance(exc, JanusRequestError):
                raise InvalidInput(f"Media offer from {participant_id} refused by Janus: {exc.reason}") from exc
            raise MediaUnavailable(
                f"The media server ({origin.spec.url}) does not answer; try going live again shortly."
            ) from exc

    async def subscribe(self, session_id: str, participant_id: str, sid: str, *, hold: bool = False) -> dict[str, str]:
        """Places the viewer on the least-loaded node and returns Janus's offer for it.

        `hold` (an attendee before the session is live): the subscription is made, but Janus is
        told to relay none of its streams (`configure {send: false}`) until `started`. The page
        connects and gets nothing, which it cannot undo: the holding back is Janus's, not the page's.
        """
        webinar = self._webinars.get(session_id)
        if webinar is None or not viewed_feeds(webinar.publishers.values(), participant_id):
            raise NoMedia(f"Nobody else publishes in session {session_id} yet; subscribe after 'media.available'.")
        async with webinar.lock:
            old = webinar.viewers.pop(participant_id, None)
            if old is not None:
                await old.handle.detach()
            node = self._place(webinar)
            if node is None:
                raise MediaUnavailable("No media server node answers; the host will be told when video is back.")
            try:
                await self._ensure_room(webinar, node)
                feeds = viewed_feeds(webinar.publishers.values(), participant_id)
                if not feeds:  # the last other publisher left while this subscription waited for the lock
                    raise NoMedia(f"Nobody else publishes in session {session_id} now; subscribe after 'media.available'.")
                handle = await node.session.attach() if node.session is not None else None
                if handle is None:
                    raise JanusUnavailable(node.spec.name)
                data, jsep = await handle.negotiate(
                    {"request": "join", "ptype": "subscriber", "room": webinar.room,
                     "streams": [{"feed": feed} for feed in feeds], "use_msid": True}
                )
                if not jsep or jsep.get("type") != "offer":
                    await handle.detach()
                    raise MediaUnavailable(f"Janus node {node.spec.name} sent no offer for {participant_id}.")
                held = hold and not webinar.live
                if held:
                    try:
                        await handle.request({"request": "configure", "send": False})
                    except BaseException:
                        await handle.detach()  # never a subscription that was meant to be held, running
                        raise
            except JanusUnavailable as exc:
                raise MediaUnavailable(f"The media server node {node.spec.name} does not answer; subscribe again.") from exc
            except JanusRequestError as exc:
                raise MediaUnavailable(f"Janus node {node.spec.name} refused the subscription: {exc.reason}") from exc
            names = stream_names(data.get("streams", []), feeds)
            webinar.viewers[participant_id] = _Viewer(participant_id, handle, node.spec.name, {sid}, held)
            logger.info("%s/%s: watching from %s", session_id, participant_id, node.spec.name)
            return {"type": "offer", "sdp": rename_streams(str(jsep["sdp"]), names)}

    async def answer(self, session_id: str, participant_id: str, answer: dict[str, Any]) -> None:
        webinar = self._webinars.get(session_id)
        viewer = webinar.viewers.get(participant_id) if webinar is not None else None
        if viewer is None:
            raise InvalidInput(f"No subscription of {participant_id} is waiting for an answer; send 'media.subscribe' first.")
        if answer.get("type") != "answer":
            raise InvalidInput(f"Media description type {answer.get('type')!r} from {participant_id} is not 'answer'")
        try:
            await viewer.handle.request({"request": "start"}, {"type": "answer", "sdp": answer["sdp"]})
        except JanusUnavailable as exc:
            raise MediaUnavailable(f"The media server node {viewer.node} does not answer; subscribe again.") from exc
        except JanusRequestError as exc:
            raise InvalidInput(f"Media answer from {participant_id} refused by Janus: {exc.reason}") from exc

    async def leave(self, session_id: str, participant_id: str, sid: str, last: bool) -> None:
        webinar = self._webinars.get(session_id)
        if webinar is None:
            return
        async with webinar.lock:
            publisher = webinar.publishers.get(participant_id)
            if publisher is not None and (last or sid in publisher.sids):
                del webinar.publishers[participant_id]
                await self._unpublish(webinar, publisher)
                self._spawn(self._emit_to_session(MediaAvailable(participant_id=participant_id), session_id))
                self._publishers_changed(session_id)
            viewer = webinar.viewers.get(participant_id)
            if viewer is not None and (last or sid in viewer.sids):
                del webinar.viewers[participant_id]
                await viewer.handle.detach()
        if not webinar.publishers and not webinar.viewers:
            await self.end(session_id)

    async def unpublish(self, session_id: str, participant_id: str) -> None:
        """Takes one publisher (a speaker whose turn ended) off the origin and every edge; their
        subscription stays. Viewers hear `media.available` and subscribe again, as after a republish."""
        webinar = self._webinars.get(session_id)
        if webinar is None:
            return
        async with webinar.lock:
            publisher = webinar.publishers.pop(participant_id, None)
            if publisher is None:
                return
            await self._unpublish(webinar, publisher)
        logger.info("%s/%s: no longer publishing through Janus", session_id, participant_id)
        self._spawn(self._emit_to_session(MediaAvailable(participant_id=participant_id), session_id))
        self._publishers_changed(session_id)
        if not webinar.publishers and not webinar.viewers:
            await self.end(session_id)

    async def started(self, session_id: str) -> None:
        """The session went live: Janus starts relaying to the viewers held back until now.

        No renegotiation: their connections are up, `configure {send: true}` turns the streams on
        (and makes Janus ask the publishers for a keyframe, so pictures start at once).
        """
        webinar = self._webinars.get(session_id)
        if webinar is None:
            return
        async with webinar.lock:
            webinar.live = True
            for viewer in webinar.viewers.values():
                if not viewer.held:
                    continue
                try:
                    await viewer.handle.request({"request": "configure", "send": True})
                except (JanusUnavailable, JanusRequestError) as exc:
                    # Its node is gone: the edge-loss path already asks it to subscribe again.
                    logger.warning("%s/%s: not released: %s", session_id, viewer.participant_id, exc)
                    continue
                viewer.held = False

    # --- recording --------------------------------------------------------------------------
    def source(self, session_id: str) -> RecordingTap | None:
        """The tracks a recorder follows: the session's recording tap, if it has one now."""
        return self._taps.get(session_id)

    async def open_source(self, session_id: str) -> None:
        """A recording starts: tap the origin room now and again whenever its publishers change.

        The tap is one more subscriber of the origin room, an aiortc peer in this process whose
        encoded frames go to the same recorder the embedded engine uses (see `live.media.janus.tap`).
        """
        self._recorded.add(session_id)
        await self._retap(session_id)

    async def close_source(self, session_id: str) -> None:
        self._recorded.discard(session_id)
        await self._untap(session_id)
        self._tap_locks.pop(session_id, None)

    async def _retap(self, session_id: str) -> None:
        """(Re)subscribes the session's tap to the current publishers, then tells the recorders."""
        async with self._tap_locks[session_id]:
            old = self._taps.pop(session_id, None)
            if old is not None:
                await old.close()
            webinar = self._webinars.get(session_id)
            origin = self._origin.session
            if session_id in self._recorded and webinar is not None and webinar.publishers and origin is not None:
                feeds = {p.feed: (p.participant_id, p.screen_mid) for p in webinar.publishers.values()}
                try:
                    self._taps[session_id] = await RecordingTap.open(origin, webinar.room, feeds, f"{session_id}/recording")
                except (JanusUnavailable, JanusRequestError) as exc:
                    logger.warning("%s: the recording cannot tap the origin: %s", session_id, exc)
        for listener in self.listeners:
            listener(session_id)

    async def _untap(self, session_id: str) -> None:
        async with self._tap_locks[session_id]:
            tap = self._taps.pop(session_id, None)
            if tap is not None:
                await tap.close()

    def _publishers_changed(self, session_id: str) -> None:
        if session_id in self._recorded:
            self._spawn(self._retap(session_id))

    async def end(self, session_id: str) -> None:
        """Destroys the session's rooms on every node: Janus hangs up everyone in them."""
        await self._untap(session_id)
        webinar = self._webinars.pop(session_id, None)
        if webinar is None:
            return
        async with webinar.lock:
            for node_name in list(webinar.rooms_on):
                node = self._nodes[node_name]
                if node.up and node.control is not None:
                    with contextlib.suppress(JanusUnavailable, JanusRequestError):
                        await node.control.request(node.admin({"request": "destroy", "room": webinar.room}))
            for handle in [p.handle for p in webinar.publishers.values()] + [v.handle for v in webinar.viewers.values()]:
                await handle.detach()
        logger.info("%s: Janus rooms %s destroyed on %s", session_id, webinar.room, ", ".join(sorted(webinar.rooms_on)))

    # --- rooms, publishers, cascades --------------------------------------------------------
    def _require_origin(self) -> _Node:
        if not self._origin.up:
            raise MediaUnavailable(
                f"The media server ({self._origin.spec.url}) does not answer; try going live again shortly."
            )
        return self._origin

    def _edges(self) -> list[_Node]:
        return [node for node in self._nodes.values() if node.spec.role == "edge" and node.up]

    def _place(self, webinar: _Webinar) -> _Node | None:
        edges = [node for node in self._edges() if all(node.spec.name in p.remotes for p in webinar.publishers.values())]
        if not edges:
            return self._origin if self._origin.up else None
        load = {node.spec.name: 0 for node in edges}
        for other in self._webinars.values():
            for viewer in other.viewers.values():
                if viewer.node in load:
                    load[viewer.node] += 1
        return min(edges, key=lambda node: load[node.spec.name])

    async def _ensure_room(self, webinar: _Webinar, node: _Node) -> None:
        if node.spec.name in webinar.rooms_on:
            return
        if node.control is None:
            raise JanusUnavailable(node.spec.name)
        owner = self._origin.session.id if self._origin.session is not None else 0
        await node.control.request(
            node.admin(
                {
                    "request": "create",
                    "room": webinar.room,
                    "description": f"live:{webinar.session_id}:{owner}",
                    "permanent": False,
                    "is_private": False,
                    "publishers": 16,
                    "audiocodec": "opus",
                    "videocodec": "vp8",
                    "notify_joining": False,
                }
            )
        )
        webinar.rooms_on.add(node.spec.name)

    async def _join_publisher(
        self, webinar: _Webinar, origin: _Node, participant_id: str, sdp: str
    ) -> tuple[_Publisher, dict[str, str]]:
        assert origin.session is not None
        feed = secrets.randbelow(_MAX_ID - 1) + 1
        session_id = webinar.session_id

        def on_event(event: dict[str, Any]) -> None:
            if event.get("janus") == "webrtcup":
                logger.info("%s/%s: publishing through Janus", session_id, participant_id)
                self._spawn(self._emit_to_session(MediaAvailable(participant_id=participant_id), session_id))
                self._publishers_changed(session_id)

        handle = await origin.session.attach(listener=on_event)
        try:
            _, jsep = await handle.negotiate(
                {"request": "joinandconfigure", "ptype": "publisher", "room": webinar.room, "id": feed,
                 "display": participant_id, "audio": True, "video": True},
                {"type": "offer", "sdp": sdp},
            )
        except BaseException:
            await handle.detach()
            raise
        if not jsep or jsep.get("type") != "answer":
            await handle.detach()
            raise JanusRequestError(0, f"no answer to the offer of {participant_id}")
        answer = {"type": "answer", "sdp": str(jsep["sdp"])}
        return _Publisher(participant_id, feed, handle, offer_streams(sdp), offer_mids(sdp)), answer

    async def _cascade(self, webinar: _Webinar, publisher: _Publisher, node: _Node) -> None:
        """Makes `publisher` a remote publisher on edge `node`, fed by the origin."""
        if node.control is None or self._origin.control is None:
            return
        try:
            await self._ensure_room(webinar, node)
            mids = publisher.mids or [str(index) for index in range(len(publisher.streams))]
            streams = [
                {"type": kind, "mindex": index, "mid": mid, **({"codec": codec} if codec else {})}
                for index, ((kind, codec), mid) in enumerate(zip(publisher.streams, mids, strict=True))
            ]
            remote = await node.control.request(
                node.admin({"request": "add_remote_publisher", "room": webinar.room, "id": publisher.feed,
                            "display": publisher.participant_id, "streams": streams})
            )
            await self._origin.control.request(
                self._origin.admin({"request": "publish_remotely", "room": webinar.room, "publisher_id": publisher.feed,
                                    "remote_id": node.spec.name, "host": node.spec.rtp_host,
                                    "port": int(remote["port"]), "rtcp_port": int(remote["rtcp_port"])})
            )
        except JanusUnavailable:
            # The edge died mid-way: its loss handler cleans up; viewers go elsewhere.
            logger.warning("%s: edge %s unavailable while cascading", webinar.session_id, node.spec.name)
            return
        publisher.remotes.add(node.spec.name)

    async def _unpublish(self, webinar: _Webinar, publisher: _Publisher) -> None:
        for name in list(publisher.remotes):
            node = self._nodes[name]
            if node.up and node.control is not None:
                with contextlib.suppress(JanusUnavailable, JanusRequestError):
                    await node.control.request(
                        node.admin({"request": "remove_remote_publisher", "room": webinar.room, "id": publisher.feed})
                    )
        publisher.remotes.clear()
        # Leaving the origin room removes the publisher and its forwards to the edges.
        await publisher.handle.detach()

    # --- faults -----------------------------------------------------------------------------
    async def _connect(self, node: _Node) -> None:
        assert self._http is not None
        try:
            session = await JanusSession.create(self._http, node.spec.url, name=node.spec.name)
            node.control = await session.attach()
        except (JanusUnavailable, JanusRequestError) as exc:
            logger.warning("Janus %s not reachable: %s", node.spec.name, exc)
            return
        node.session = session

        async def lost() -> None:
            await self._node_lost(node)

        session.on_lost = lost
        logger.info("Janus %s connected (session %s)", node.spec.name, session.id)

    async def _reconnect(self, node: _Node) -> None:
        while not self._closed and not node.up:
            await asyncio.sleep(RETRY_INTERVAL)
            await self._connect(node)
        if node.up and node.spec.role == "origin":
            await self._sweep(node)
        elif node.up:
            # An edge that is back takes new viewers of the webinars already running, too.
            for webinar in list(self._webinars.values()):
                async with webinar.lock:
                    for publisher in list(webinar.publishers.values()):
                        try:
                            await self._cascade(webinar, publisher, node)
                        except JanusRequestError as exc:
                            logger.warning("%s: edge %s back but not cascaded: %s", webinar.session_id, node.spec.name, exc)

    async def _node_lost(self, node: _Node) -> None:
        logger.warning("Janus %s lost", node.spec.name)
        node.control = None
        if node.spec.role == "origin":
            for session_id in list(self._taps):
                await self._untap(session_id)  # a recording keeps what it has; a republish taps again
            for session_id, webinar in list(self._webinars.items()):
                self._webinars.pop(session_id, None)
                await self._emit_to_session(
                    MediaUnavailableOut(
                        reason="media_server_down",
                        message="The video server stopped; video will be back when the host goes live again.",
                    ),
                    session_id,
                )
                await self._drop_webinar_elsewhere(webinar)
        else:
            for webinar in list(self._webinars.values()):
                await self._edge_lost(webinar, node)
        if not self._closed:
            self._spawn(self._reconnect(node))

    async def _edge_lost(self, webinar: _Webinar, node: _Node) -> None:
        name = node.spec.name
        async with webinar.lock:
            webinar.rooms_on.discard(name)
            moved = [v for v in webinar.viewers.values() if v.node == name]
            for viewer in moved:
                del webinar.viewers[viewer.participant_id]
            for publisher in webinar.publishers.values():
                if name in publisher.remotes:
                    publisher.remotes.discard(name)
                    if self._origin.up and self._origin.control is not None:
                        with contextlib.suppress(JanusUnavailable, JanusRequestError):
                            await self._origin.control.request(
                                self._origin.admin({"request": "unpublish_remotely", "room": webinar.room,
                                                    "publisher_id": publisher.feed, "remote_id": name})
                            )
        # A publisher's id in `media.available` is what makes a viewer re-subscribe (now elsewhere).
        anyone = next(iter(webinar.publishers), None)
        for viewer in moved:
            logger.info("%s/%s: edge %s lost, asked to re-subscribe", webinar.session_id, viewer.participant_id, name)
            for sid in viewer.sids:
                await self._emit(MediaAvailable(participant_id=anyone or viewer.participant_id), sid)

    async def _drop_webinar_elsewhere(self, webinar: _Webinar) -> None:
        for node_name in webinar.rooms_on:
            node = self._nodes[node_name]
            if node.up and node.control is not None and node is not self._origin:
                with contextlib.suppress(JanusUnavailable, JanusRequestError):
                    await node.control.request(node.admin({"request": "destroy", "room": webinar.room}))
        for viewer in webinar.viewers.values():
            await viewer.handle.detach()

    async def _sweep_forever(self) -> None:
        while not self._closed:
            for node in self._nodes.values():
                await self._sweep(node)
            await asyncio.sleep(SWEEP_INTERVAL)

    async def _sweep(self, node: _Node) -> None:
        """Destroys `live:` rooms on `node` whose owning app session no longer exists on the origin."""
        if not node.up or node.control is None or not self._origin.up or self._origin.session is None:
            return
        try:
            rooms = (await node.control.request(node.admin({"request": "list"}))).get("list", [])
            for room in rooms:
                parts = str(room.get("description", "")).split(":")
                if len(parts) != 3 or parts[0] != "live" or not parts[2].isdigit():
                    continue
                if await self._origin.session.exists(int(parts[2])):
                    continue
                await node.control.request(node.admin({"request": "destroy", "room": room["room"]}))
                logger.info("Janus %s: destroyed room %s left by a stopped app (session %s)",
                            node.spec.name, room["room"], parts[1])
        except (JanusUnavailable, JanusRequestError) as exc:
            logger.warning("Janus %s: sweep failed: %s", node.spec.name, exc)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Janus media task failed")

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _offer_sdp(participant_id: str, offer: dict[str, Any]) -> str:
    if offer.get("type") != "offer":
        raise InvalidInput(f"Media description type {offer.get('type')!r} from {participant_id} is not 'offer'")
    sdp = offer.get("sdp")
    if not isinstance(sdp, str) or "m=" not in sdp:
        raise InvalidInput(f"Media offer from {participant_id} has no audio or video m-line")
    return sdp
