"""Payload models of the room's Socket.IO events: what clients send (`...In`) and what the server emits.

The emitted models are the wire contract (docs/protocol.md); tests validate what clients receive
against them, so a change here is a change of the protocol.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from live.rooms.dispatch import Payload

ReactionKind = Literal["applause", "heart", "laugh", "thumbs_up", "question"]
REACTION_KINDS: tuple[str, ...] = ("applause", "heart", "laugh", "thumbs_up", "question")
# Participant ids are `c_<32 hex>` or `u_<32 hex>`; 64 leaves room and refuses garbage early.
ParticipantId = Field(min_length=1, max_length=64)


# --- client -> server -----------------------------------------------------------------------
class ReactionIn(Payload):
    kind: ReactionKind


class HandLowerIn(Payload):
    # Staff may lower someone else's hand; everyone may lower their own (the default).
    participant_id: str | None = Field(default=None, max_length=64)


class SessionStartIn(Payload):
    # True confirms a start more than 15 minutes before the scheduled time (refused otherwise).
    force: bool = False


class FocusIn(Payload):
    visible: bool


class MediaStateIn(Payload):
    camera: bool
    mic: bool


class TargetIn(Payload):
    participant_id: str = ParticipantId


class RtcSignalIn(Payload):
    to: str = ParticipantId
    description: dict[str, Any] | None = None
    candidate: dict[str, Any] | None = None


# --- server -> client -----------------------------------------------------------------------
class Emitted(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionInfo(Emitted):
    id: str
    kind: str
    title: str
    status: Literal["scheduled", "live", "ended"]


class You(Emitted):
    participant_id: str
    role: Literal["host", "co_host", "attendee"]
    name: str


class ParticipantOut(Emitted):
    participant_id: str
    name: str
    role: Literal["host", "co_host", "attendee"]
    hand_raised: bool = False
    camera: bool | None = None
    mic: bool | None = None
    visible: bool | None = None  # only in the host's and co-hosts' room.state


class Limit(Emitted):
    burst: int
    rate: float


class RoomStateOut(Emitted):
    model_config = ConfigDict(extra="allow")  # other capabilities contribute parts (see dispatch)

    session: SessionInfo
    you: You
    participants: list[ParticipantOut]
    hands: list[str]
    poll: dict[str, Any] | None
    chat: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    ice_servers: list[dict[str, Any]]
    limits: dict[str, Limit]


class Presence(Emitted):
    participant_id: str
    name: str
    role: Literal["host", "co_host", "attendee"]


class ReactionOut(Emitted):
    participant_id: str
    kind: ReactionKind


class HandOut(Emitted):
    participant_id: str


class SessionChanged(Emitted):
    id: str
    at: str


class MediaStateOut(Emitted):
    participant_id: str
    camera: bool
    mic: bool


class FocusOut(Emitted):
    participant_id: str
    visible: bool


class Muted(Emitted):
    participant_id: str
    by: str


class Removed(Emitted):
    participant_id: str
    reason: str


class RtcSignalOut(Emitted):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    description: dict[str, Any] | None = None
    candidate: dict[str, Any] | None = None


EMITTED: dict[str, type[Emitted]] = {
    "room.state": RoomStateOut,
    "presence.joined": Presence,
    "presence.left": Presence,
    "reaction": ReactionOut,
    "hand.raised": HandOut,
    "hand.lowered": HandOut,
    "session.started": SessionChanged,
    "session.ended": SessionChanged,
    "media.state": MediaStateOut,
    "participant.focus": FocusOut,
    "moderation.muted": Muted,
    "moderation.removed": Removed,
    "rtc.signal": RtcSignalOut,
}
