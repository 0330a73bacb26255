"""A recording's view of a Janus webinar: one more subscriber of the origin room, whose encoded frames feed `TrackForwarder`s.

Why a subscriber and not VideoRoom's own recorder (`configure {record: true}`, `.mjr` files): the
origin is usually another machine (or container) than the app, so its files would need a shared
volume and a post-processing step (`janus-pp-rec`, which Debian ships apart, in `janus-tools`)
before anything could be served. A subscriber in the app process receives the same RTP a viewer
gets, and `live.media.forwarder` already turns a receiver's reassembled frames into encoded
`av.Packet`s without decoding them (`EncodedFrameTap`), so the embedded engine's recorder
(`live.recordings.recorder`) writes the very same WebM files, screen and timeline rules included.
The cost is one subscriber's packets in the app: SRTP and reassembly, no decoding, no encoding.

The tap subscribes to every publisher of the room at the time it is made; the engine makes a new
one whenever the publishers change (a republish, a screen shared, a host leaving) and the recorder
picks the new tracks up, as it does when the embedded router's publishers change.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription

from live.media.forwarder import TrackForwarder
from live.media.janus.client import Handle, JanusRequestError, JanusSession
from live.media.router import ice_configuration

logger = logging.getLogger(__name__)


class RecordingTap:
    """The published tracks of one origin room, as `TrackForwarder`s a recorder can follow."""

    def __init__(self, pc: RTCPeerConnection, handle: Handle, forwarders: dict[str, list[TrackForwarder]]) -> None:
        self._pc = pc
        self._handle = handle
        self._forwarders = forwarders

    @property
    def publishers(self) -> list[str]:
        return list(self._forwarders)

    def forwarders(self, participant_id: str) -> list[TrackForwarder]:
        return list(self._forwarders.get(participant_id, []))

    @classmethod
    async def open(
        cls, session: JanusSession, room: int, feeds: dict[int, tuple[str, str | None]], label: str
    ) -> RecordingTap:
        """Subscribes to `feeds` (feed id -> participant id, screen mid) in `room` on the origin."""
        handle = await session.attach()
        pc = RTCPeerConnection(ice_configuration([]))
        try:
            data, jsep = await handle.negotiate(
                {"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed} for feed in feeds]}
            )
            if not jsep or jsep.get("type") != "offer":
                raise JanusRequestError(0, f"no offer for the recording of room {room}")
            sdp = str(jsep["sdp"])
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            forwarders = _forwarders(pc, sdp, data.get("streams", []), feeds, label)
            await pc.setLocalDescription(await pc.createAnswer())
            await handle.request({"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp})
        except BaseException:
            await pc.close()
            await handle.detach()
            raise
        logger.info("%s: tapping %s", label, ", ".join(f"{f!r}" for fs in forwarders.values() for f in fs))
        return cls(pc, handle, forwarders)

    async def close(self) -> None:
        """Ends the tracks (the recorder's inputs end with them) and leaves the room."""
        for forwarders in self._forwarders.values():
            for forwarder in forwarders:
                forwarder.close()
        await self._pc.close()
        await self._handle.detach()


def _forwarders(
    pc: RTCPeerConnection, sdp: str, streams: list[dict[str, Any]], feeds: dict[int, tuple[str, str | None]], label: str
) -> dict[str, list[TrackForwarder]]:
    """A forwarder on each of the tap's receivers, named after the publisher and stream it carries.

    Installed before the answer, so each receiver hands over encoded frames from its first packet.
    """
    ssrcs = {m.rtp.muxId: m.ssrc[0].ssrc for m in SessionDescription.parse(sdp).media if m.ssrc}
    by_mid = {str(stream["mid"]): stream for stream in streams if "mid" in stream}
    made: defaultdict[str, list[TrackForwarder]] = defaultdict(list)
    for transceiver in pc.getTransceivers():
        stream = by_mid.get(str(transceiver.mid))
        feed = int(stream.get("feed_id", 0) or 0) if stream is not None else 0
        if stream is None or feed not in feeds or transceiver.kind not in ("audio", "video"):
            continue
        participant_id, screen_mid = feeds[feed]
        screen = transceiver.kind == "video" and screen_mid is not None and str(stream.get("feed_mid")) == screen_mid
        name = "screen" if screen else transceiver.kind
        forwarder = TrackForwarder(
            transceiver.kind, f"{participant_id}-{name}-{transceiver.mid}", participant_id, f"{label}/{name}", screen=screen
        )
        forwarder.attach(transceiver.receiver, ssrcs.get(str(transceiver.mid)))
        made[participant_id].append(forwarder)
    return dict(made)
