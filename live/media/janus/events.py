"""Payloads of the Janus engine's media events: a subscription Janus offers, the viewer's answer, `media.unavailable`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from live.media.events import MAX_SDP
from live.rooms.dispatch import Payload
from live.rooms.server_events import ServerEvent


class SubscriberOffer(Payload):
    """An offer of the viewer's own: refused with Janus, which offers itself."""

    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class SubscribeIn(Payload):
    """`media.subscribe`: `{}` asks Janus for an offer (an offer of one's own is refused with a reason)."""

    description: SubscriberOffer | None = None


class AnswerIn(Payload):
    type: Literal["answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class MediaAnswerIn(Payload):
    """`media.answer`: `{description: {type: "answer", sdp}}`, the viewer's answer to Janus's offer."""

    description: AnswerIn


# --- server -> client -----------------------------------------------------------------------
class MediaUnavailableOut(ServerEvent):
    """With Janus: the origin stopped and every picture is gone; to everyone in the session. Video is back
    when the host publishes again (then `media.available` as usual)."""

    event = "media.unavailable"

    reason: Literal["media_server_down"]
    message: str


EMITTED: tuple[type[ServerEvent], ...] = (MediaUnavailableOut,)
