"""Payloads of the media events: an SDP offer in, an SDP answer back, `media.available` out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from live.rooms.dispatch import Payload

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
class Emitted(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerOut(Emitted):
    type: Literal["answer"]
    sdp: str


class AnswerAck(Emitted):
    """The ack of `media.publish` and `media.subscribe`."""

    ok: Literal[True]
    description: AnswerOut


class MediaAvailable(Emitted):
    participant_id: str


EMITTED: dict[str, type[Emitted]] = {"media.available": MediaAvailable}
