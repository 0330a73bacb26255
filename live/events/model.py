"""Event types of the log and the value object every writer appends and every reader derives from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """What the log records. `data` carries the fields named in each comment.

    Presence is per connection (`sid`): a person with two tabs has two overlapping intervals,
    merged when attendance is derived, so time is never double-counted.
    """

    SESSION_STARTED = "session.started"  # {}
    SESSION_ENDED = "session.ended"  # {}
    JOINED = "participant.joined"  # {sid, role, name, contact_id?, user_id?}
    LEFT = "participant.left"  # {sid, reason?}
    FOCUS = "focus"  # {sid, visible}
    MEDIA_STATE = "media.state"  # {sid, camera, mic}
    CHAT_MESSAGE = "chat.message"  # {id, text}
    CHAT_DELETED = "chat.deleted"  # {id}
    QA_ASKED = "qa.asked"  # {id, text}
    QA_UPVOTED = "qa.upvoted"  # {id}
    QA_ANSWERED = "qa.answered"  # {id}
    POLL_OPENED = "poll.opened"  # {poll_id}
    POLL_VOTED = "poll.voted"  # {poll_id, choices?}: no `choices` for an anonymous poll
    POLL_CLOSED = "poll.closed"  # {poll_id}
    REACTION = "reaction"  # {kind}
    HAND_RAISED = "hand.raised"  # {}
    HAND_LOWERED = "hand.lowered"  # {}
    MUTED = "moderation.muted"  # {target}
    REMOVED = "moderation.removed"  # {target}
    # A speaker from the audience (webinars): speaking runs from their accepting the host's invitation
    # to a revoke, their leaving or the session's end; `participant_id` is always the speaker's.
    SPEAKER_STARTED = "speaker.started"  # {}
    SPEAKER_STOPPED = "speaker.stopped"  # {reason: "revoked" | "left", by?}


@dataclass(frozen=True)
class LogEvent:
    session_id: str
    type: EventType
    at: datetime
    participant_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
