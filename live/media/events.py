"""Payloads of the media events: an SDP offer in, an SDP answer back, `media.available` out."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from live.rooms.dispatch import Payload
from live.rooms.server_events import ServerEvent, WireModel

# A browser's offer with every candidate gathered is 3-10 kB per m-line pair; this leaves room for
# several tracks and many candidates while refusing megabytes of junk (Socket.IO allows 256 kB).
MAX_SDP = 100_000


class OfferIn(Payload):
    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class MediaOfferIn(Payload):
    """`media.subscribe`: `{description: {type: "offer", sdp}}`."""

    description: OfferIn


class MediaPublishIn(MediaOfferIn):
    """`media.publish`: `{description, screen_mid?}`; `screen_mid` is the `a=mid` of the video m-line
    carrying a shared screen."""

    screen_mid: str | None = Field(default=None, min_length=1, max_length=32)


# --- server -> client -----------------------------------------------------------------------
class AnswerOut(WireModel):
    """The server's SDP answer."""

    type: Literal["answer"]
    sdp: str


class AnswerAck(WireModel):
    """The ack of `media.publish` and, with the embedded engine, of `media.subscribe`."""

    ok: Literal[True]
    description: AnswerOut


class MediaAvailable(ServerEvent):
    """A publisher's tracks started, changed or ended, or the session went live: subscribers send a fresh
    `media.subscribe`. To everyone in the session; with Janus also to just the viewers of an edge that
    died (subscribing again places them on another edge)."""

    event = "media.available"

    participant_id: str


EMITTED: tuple[type[ServerEvent], ...] = (MediaAvailable,)
