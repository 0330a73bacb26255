"""Payload models of poll events: what clients send (`...In`) and what the server emits (the wire contract)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from live.errors import InvalidInput
from live.polls.model import MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS, PollSpec, check_spec
from live.rooms.dispatch import Payload
from live.rooms.server_events import ServerEvent, WireModel

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
class PollShape(WireModel):
    id: str
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool


class PollOpenedOut(PollShape, ServerEvent):
    """A host or co-host opened a poll; to everyone in the session."""

    event = "poll.opened"


class PollResults(WireModel):
    poll_id: str
    counts: list[int] = Field(description="votes per option, in the options' order")
    voters: int


class PollResultsOut(PollResults, ServerEvent):
    """Live results, throttled: to the hosts and co-hosts always, to an attendee once they have voted (every
    tab of theirs); never after the poll closed."""

    event = "poll.results"


class PollClosedOut(PollResults, ServerEvent):
    """The poll closed (by a host, or because the session ended), with its final results; to everyone."""

    event = "poll.closed"


class PollStateOut(PollShape):
    """`room.state.poll`: the open poll, whether you voted (and what, unless anonymous), results if you may see them."""

    status: Literal["open"]
    voted: bool
    choices: list[int] | None = Field(description="your vote; null if you have not voted or the poll is anonymous")
    counts: list[int] | None = Field(description="null unless you may see live results (staff, or you voted)")
    voters: int | None


EMITTED: tuple[type[ServerEvent], ...] = (PollOpenedOut, PollResultsOut, PollClosedOut)
