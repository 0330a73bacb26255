"""Payload models of the room's Socket.IO events: what clients send (`...In`) and what the server emits (`...Out`).

The emitted models are the wire contract: docs/protocol.md's tables are generated from them
(`python -m live.protocol_doc`) and tests validate everything a client receives against them, so a
change here is a change of the protocol. Each event's docstring says who receives it, and when.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field

from live.chat.events import ChatMessageOut, QuestionOut
from live.polls.events import PollStateOut
from live.recordings.events import RecordingPart
from live.rooms.dispatch import Payload
from live.rooms.model import Participant, RoomRole
from live.rooms.server_events import Omittable, ServerEvent, UtcTime, WireModel
from live.sessions.model import SessionKind

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
class SessionInfo(WireModel):
    """`room.state.session`: the session as it is when you join."""

    id: str
    kind: SessionKind
    title: str
    status: Literal["scheduled", "live", "ended"]


class You(WireModel):
    """`room.state.you`: who this connection is in the session."""

    participant_id: str
    role: RoomRole
    name: str


class ParticipantOut(WireModel):
    """One person present, in `room.state.participants`."""

    participant_id: str
    name: str
    role: RoomRole
    hand_raised: bool
    camera: Omittable[bool] = Field(default=None, description="their last `media.state`; absent before they sent one")
    mic: Omittable[bool] = Field(default=None, description="as `camera`")
    visible: Omittable[bool] = Field(
        default=None, description="whether their page is in view; only in the host's and co-hosts' `room.state`"
    )


class Limit(WireModel):
    """An attendee's rate limit of one kind: a burst of `burst` events, refilled at `rate` a second."""

    burst: int
    rate: float


class RoomStateOut(ServerEvent):
    """To the connection just admitted, once: the room as this person may see it."""

    event = "room.state"

    session: SessionInfo
    you: You
    participants: list[ParticipantOut] = Field(
        description="who is present; in a webinar or welcome seminar an attendee's list holds the staff and "
        "themselves, the staff's everyone"
    )
    hands: list[str] = Field(description="participant ids with a raised hand")
    poll: PollStateOut | None = Field(description="the open poll (see Polls) or null")
    chat: list[ChatMessageOut] = Field(description="the last 50 messages, deleted ones excluded")
    questions: list[QuestionOut] = Field(
        description="at most 50, oldest first: the 25 most upvoted open ones, then the newest"
    )
    ice_servers: list[dict[str, Any]] = Field(description="STUN/TURN servers for the browser (`LIVE_ICE_SERVERS`)")
    limits: dict[str, Limit] = Field(description="each rate kind's attendee limit")
    questions_total: int = Field(
        description="the session's questions in all; more than `questions` holds: page them with `qa.list`"
    )
    publishers: list[str] = Field(
        description="who publishes media now: subscribe with that many video + audio m-lines (webinars)"
    )
    screen: str | None = Field(default=None, description="who shares a screen, or null")
    media: Omittable[Literal["janus"]] = Field(default=None, description='`"janus"` with `LIVE_MEDIA=janus`, else absent')
    recording: RecordingPart | None = Field(default=None, description="the recording under way, or null")
    speakers: Omittable[list[str]] = Field(default=None, description="attendees invited to speak")
    speaking: Omittable[list[str]] = Field(
        default=None, description="the invited attendees who accepted (`speaker.accept`): speaking now"
    )


class Presence(WireModel):
    participant_id: str
    name: str
    role: RoomRole

    @classmethod
    def of(cls, person: Participant) -> Self:
        return cls(participant_id=person.participant_id, name=person.name, role=person.role)


class PresenceJoinedOut(Presence, ServerEvent):
    """A person's first connection arrived. To everyone in the session; an attendee's in a webinar or
    welcome seminar to the host and co-hosts only (the audience does not see itself)."""

    event = "presence.joined"


class PresenceLeftOut(Presence, ServerEvent):
    """A person's last connection went (or their process died); to the same people as `presence.joined`."""

    event = "presence.left"


class ReactionOut(ServerEvent):
    """Someone reacted; to everyone in the session."""

    event = "reaction"

    participant_id: str
    kind: ReactionKind


class HandOut(WireModel):
    participant_id: str


class HandRaisedOut(HandOut, ServerEvent):
    """A hand went up (not sent if it was up). To everyone; an attendee's in a webinar or welcome seminar to
    the host, co-hosts and their own tabs only."""

    event = "hand.raised"


class HandLoweredOut(HandOut, ServerEvent):
    """A hand went down (not sent if it was down); to the same people as `hand.raised`."""

    event = "hand.lowered"


class SessionChanged(WireModel):
    id: str
    at: UtcTime


class SessionStartedOut(SessionChanged, ServerEvent):
    """The session went live (a host's `session.start`, or a one-on-one by itself); to everyone."""

    event = "session.started"


class SessionEndedOut(SessionChanged, ServerEvent):
    """The session ended (a host's `session.end`, or an empty one-on-one after its grace period); to everyone."""

    event = "session.ended"


class MediaStateOut(ServerEvent):
    """Someone's camera and microphone state. To everyone; an attendee's in a webinar or welcome seminar to
    the host, co-hosts and their own tabs only."""

    event = "media.state"

    participant_id: str
    camera: bool
    mic: bool


class FocusOut(ServerEvent):
    """Someone's page came into view or left it; to the host and co-hosts only."""

    event = "participant.focus"

    participant_id: str
    visible: bool


class MutedOut(ServerEvent):
    """To the muted person only (every tab): turn your microphone off."""

    event = "moderation.muted"

    participant_id: str
    by: str


class RemovedOut(ServerEvent):
    """A host removed someone; to the whole session, the removed person included, before their connections close."""

    event = "moderation.removed"

    participant_id: str
    reason: str


class RtcSignalOut(ServerEvent):
    """A one-on-one peer's `rtc.signal`, relayed untouched to the `to` it named only."""

    event = "rtc.signal"
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    description: Omittable[dict[str, Any]] = None
    candidate: Omittable[dict[str, Any]] = None


# Every event of this module, in the order docs/protocol.md lists them (registered in live.rooms.outbound).
EMITTED: tuple[type[ServerEvent], ...] = (
    RoomStateOut,
    PresenceJoinedOut,
    PresenceLeftOut,
    ReactionOut,
    HandRaisedOut,
    HandLoweredOut,
    SessionStartedOut,
    SessionEndedOut,
    MediaStateOut,
    FocusOut,
    MutedOut,
    RemovedOut,
    RtcSignalOut,
)
