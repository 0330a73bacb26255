"""Payload models of chat and Q&A events: client payloads (`...In`) and what the server emits (`...Out`)."""

from __future__ import annotations

from pydantic import Field

from live.chat.model import PAGE_DEFAULT, PAGE_MAX
from live.rooms.dispatch import Payload
from live.rooms.server_events import ServerEvent, UtcTime, WireModel

# Ids are 32 hex characters; the bound refuses garbage before any lookup.
Id = Field(min_length=1, max_length=64)


class TextIn(Payload):
    # The length rule (2,000) is checked by chat.model.check_text so the message names the count;
    # this bound only stops absurd payloads before they are looked at.
    text: str = Field(max_length=100_000)


class IdIn(Payload):
    id: str = Id


class QaListIn(Payload):
    before: str | None = Field(default=None, min_length=1, max_length=64)
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)


# --- server -> client -----------------------------------------------------------------------
class ChatMessageOut(ServerEvent):
    """Someone sent a chat message; to everyone in the session (the sender's tabs too)."""

    event = "chat.message"

    id: str
    participant_id: str
    name: str
    text: str
    at: UtcTime


class ChatDeletedOut(ServerEvent):
    """A host or co-host deleted a message (sent once); to everyone in the session."""

    event = "chat.deleted"

    id: str


class QuestionOut(WireModel):
    """A question as pages show it: in `qa.question`, `qa.updated`, `room.state.questions` and `qa.list`."""

    id: str
    participant_id: str
    name: str
    text: str
    upvotes: int
    answered: bool
    at: UtcTime


class QuestionAskedOut(QuestionOut, ServerEvent):
    """An attendee asked a question; to everyone in the session."""

    event = "qa.question"


class QuestionUpdatedOut(QuestionOut, ServerEvent):
    """A question was upvoted or answered; to everyone in the session."""

    event = "qa.updated"


EMITTED: tuple[type[ServerEvent], ...] = (ChatMessageOut, ChatDeletedOut, QuestionAskedOut, QuestionUpdatedOut)
