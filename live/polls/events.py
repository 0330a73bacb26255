"""Payload models of poll events: what clients send (`...In`) and what the server emits (the wire contract)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from live.errors import InvalidInput
from live.polls.model import MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS, PollSpec, check_spec
from live.rooms.dispatch import Payload

# Poll ids are 32 hex characters; the bound refuses garbage before any lookup.
PollId = Annotated[str, Field(min_length=1, max_length=64)]
Option = Annotated[str, Field(max_length=MAX_OPTION)]


# --- client -> server -----------------------------------------------------------------------
class PollOpenIn(Payload):
    """Either `{poll_id}` (launch a prepared draft) or a whole definition `{question, options, multiple?, anonymous?}`."""

    poll_id: PollId | None = None
    question: str | None = Field(default=None, max_length=MAX_QUESTION)
    options: list[Option] | None = Field(default=None, min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)
    multiple: bool = False
    anonymous: bool = False

    def definition(self) -> PollSpec | None:
        """The checked definition, or None for a draft launch; refuses a payload that is neither or both."""
        given = sorted(k for k in ("question", "options", "multiple", "anonymous") if k in self.model_fields_set)
        if self.poll_id is not None:
            if given:
                raise InvalidInput(
                    f"Send either 'poll_id' (a prepared poll) or a definition, not both; got 'poll_id' and {given}."
                )
            return None
        if self.question is None or self.options is None:
            missing = [k for k in ("question", "options") if getattr(self, k) is None]
            raise InvalidInput(f"Send 'poll_id' of a prepared poll, or 'question' and 'options'; {missing} missing.")
        return check_spec(self.question, self.options, self.multiple, self.anonymous)


class PollVoteIn(Payload):
    poll_id: PollId
    choices: list[int] = Field(max_length=MAX_OPTIONS)


class PollCloseIn(Payload):
    poll_id: PollId


# --- server -> client -----------------------------------------------------------------------
class Emitted(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PollOpenedOut(Emitted):
    id: str
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool


class PollResultsOut(Emitted):
    poll_id: str
    counts: list[int]
    voters: int


class PollStateOut(PollOpenedOut):
    """`room.state.poll`: the open poll, whether you voted (and what, unless anonymous), results if you may see them."""

    status: str
    voted: bool
    choices: list[int] | None
    counts: list[int] | None
    voters: int | None


EMITTED: dict[str, type[Emitted]] = {
    "poll.opened": PollOpenedOut,
    "poll.results": PollResultsOut,
    "poll.closed": PollResultsOut,
}
