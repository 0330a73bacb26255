"""Payload models of chat and Q&A events: client payloads (`...In`) and what the server emits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from live.chat.model import PAGE_DEFAULT, PAGE_MAX
from live.rooms.dispatch import Payload

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


class Emitted(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatMessageOut(Emitted):
    id: str
    participant_id: str
    name: str
    text: str
    at: str


class ChatDeletedOut(Emitted):
    id: str


class QuestionOut(Emitted):
    id: str
    participant_id: str
    name: str
    text: str
    upvotes: int
    answered: bool
    at: str


EMITTED: dict[str, type[Emitted]] = {
    "chat.message": ChatMessageOut,
    "chat.deleted": ChatDeletedOut,
    "qa.question": QuestionOut,
    "qa.updated": QuestionOut,
}
