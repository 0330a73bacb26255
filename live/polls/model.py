"""Poll rules (pure): a poll's definition, its status, which choices are a valid vote, and the tally.

`Ballots` is the reference tally: every backend (memory, the Redis Lua script in `live.polls.board`)
behaves exactly like it, and the property tests check it against the sum of everyone's latest vote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from live.errors import Conflict, InvalidInput

MIN_OPTIONS = 2
# Ten options is Zoom's limit too: more stops being a poll and becomes a form.
MAX_OPTIONS = 10
# A question fits a card on a phone; an option fits one button.
MAX_QUESTION = 500
MAX_OPTION = 200


class PollStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"

    def transition(self, to: PollStatus) -> PollStatus:
        """The next status, or a refusal naming both: draft -> open -> closed, never back."""
        allowed = {PollStatus.DRAFT: PollStatus.OPEN, PollStatus.OPEN: PollStatus.CLOSED}
        if allowed.get(self) is not to:
            raise Conflict(f"A poll that is '{self.value}' cannot become '{to.value}'.", code=f"poll_{self.value}")
        return to


@dataclass(frozen=True)
class PollSpec:
    """What a poll asks; fixed once it is created (a draft) or opened."""

    question: str
    options: tuple[str, ...]
    multiple: bool = False
    anonymous: bool = False

    def public(self, poll_id: str) -> dict[str, Any]:
        """The `poll.opened` payload."""
        return {
            "id": poll_id,
            "question": self.question,
            "options": list(self.options),
            "multiple": self.multiple,
            "anonymous": self.anonymous,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "options": list(self.options), "multiple": self.multiple, "anonymous": self.anonymous}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PollSpec:
        return cls(str(data["question"]), tuple(str(o) for o in data["options"]), bool(data["multiple"]), bool(data["anonymous"]))


def check_spec(question: str, options: Sequence[str], multiple: bool = False, anonymous: bool = False) -> PollSpec:
    """A valid poll definition (question and options trimmed), or a refusal naming the bad value."""
    question = question.strip()
    if not question:
        raise InvalidInput("The poll question is empty.", code="empty")
    if len(question) > MAX_QUESTION:
        raise InvalidInput(f"The poll question has {len(question)} characters; at most {MAX_QUESTION} are allowed.", code="too_long")
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise InvalidInput(f"A poll has {MIN_OPTIONS} to {MAX_OPTIONS} options; got {len(options)}.", code="bad_options")
    cleaned: list[str] = []
    for index, option in enumerate(options):
        text = option.strip()
        if not text:
            raise InvalidInput(f"Option {index} is empty.", code="bad_options")
        if len(text) > MAX_OPTION:
            raise InvalidInput(f"Option {index} has {len(text)} characters; at most {MAX_OPTION} are allowed.", code="too_long")
        if text.casefold() in (c.casefold() for c in cleaned):
            raise InvalidInput(f"Option {index} ({text!r}) repeats an earlier option.", code="bad_options")
        cleaned.append(text)
    return PollSpec(question, tuple(cleaned), multiple, anonymous)


def check_choices(spec: PollSpec, choices: Sequence[int]) -> tuple[int, ...]:
    """The vote as sorted option indexes: exactly one for a single-choice poll, one or more distinct otherwise."""
    if not choices:
        raise InvalidInput("'choices' is empty; choose at least one option.", code="bad_choices")
    for index in choices:
        if not 0 <= index < len(spec.options):
            raise InvalidInput(
                f"Choice {index} is not an option of this poll (0 to {len(spec.options) - 1}).", code="bad_choices"
            )
    if len(set(choices)) != len(choices):
        repeated = sorted({c for c in choices if list(choices).count(c) > 1})
        raise InvalidInput(f"Choice {repeated[0]} is given more than once.", code="bad_choices")
    if not spec.multiple and len(choices) != 1:
        raise InvalidInput(f"This poll takes exactly one choice; got {len(choices)}.", code="bad_choices")
    return tuple(sorted(choices))


def sees_live_results(is_staff: bool, voted: bool) -> bool:
    """Hosts and co-hosts watch results from the start; attendees once they have voted (Zoom's "share results")."""
    return is_staff or voted


@dataclass
class Ballots:
    """One poll's votes: per-option counts and who voted (with what, unless the poll is anonymous).

    Voting again replaces the earlier vote. An anonymous poll never records what a person chose, so
    it cannot take a vote back out of the counts: a second vote is refused (`already_voted`).
    """

    options: int
    anonymous: bool = False
    counts: list[int] = field(default_factory=list)
    choices: dict[str, tuple[int, ...] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * self.options

    @property
    def voters(self) -> int:
        return len(self.choices)

    def cast(self, voter: str, choices: tuple[int, ...]) -> bool:
        """Applies a checked vote; True when it is the voter's first."""
        first = voter not in self.choices
        if not first:
            check_revote(self.anonymous)
        previous = self.choices.get(voter)
        for index in previous or ():
            self.counts[index] -= 1
        for index in choices:
            self.counts[index] += 1
        self.choices[voter] = None if self.anonymous else choices
        return first


def check_revote(anonymous: bool) -> None:
    if anonymous:
        raise Conflict(
            "You have already voted in this anonymous poll; its votes are final because the server "
            "does not keep what you chose.",
            code="already_voted",
        )


def vote_delta(previous: Iterable[int] | None, choices: Iterable[int]) -> dict[int, int]:
    """How a vote changes each option's counter when it replaces `previous` (None: a first vote)."""
    delta: dict[int, int] = {}
    for index in previous or ():
        delta[index] = delta.get(index, 0) - 1
    for index in choices:
        delta[index] = delta.get(index, 0) + 1
    return {index: change for index, change in delta.items() if change}


def tally(latest: Mapping[str, Iterable[int]], options: int) -> list[int]:
    """Counts per option from everyone's latest vote: what `Ballots.counts` must always equal."""
    counts = [0] * options
    for choices in latest.values():
        for index in choices:
            counts[index] += 1
    return counts


@dataclass(frozen=True)
class Results:
    poll_id: str
    counts: list[int]
    voters: int

    def public(self) -> dict[str, Any]:
        """The `poll.results` and `poll.closed` payload."""
        return {"poll_id": self.poll_id, "counts": list(self.counts), "voters": self.voters}
