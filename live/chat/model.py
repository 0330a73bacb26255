"""Chat text rules and the chat/Q&A history derived from a session's event log (pure)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from live.errors import Conflict, InvalidInput, NotFound
from live.events.model import EventType, LogEvent
from live.isotime import iso_z

MAX_TEXT = 2000
# How many chat messages a joiner sees (`room.state.chat`), and how many each room keeps so that
# deletions still leave a full screen.
RECENT_CHAT = 50
KEEP_CHAT = 200
# Control characters are refused (they break logs and terminals); tab and newlines are text.
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}
# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): invisible, and they
# reorder the text after them ("Trojan Source"), so a message could show words its sender did not type in
# that order, or spill into the name beside it. Chat and questions refuse them (the sender can retype);
# names, which come from the CRM and cannot be retyped at the door, are shown with them removed. Right-to-left
# text needs none of them: the Unicode bidi algorithm orders Arabic or Hebrew by itself.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_text(text: str, what: str = "message") -> str:
    """Returns the text exactly as typed, or refuses it naming why. HTML is text: pages escape it."""
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"The {what} has {len(text)} characters; at most {MAX_TEXT} are allowed.", code="too_long")
    if not text.strip():
        raise InvalidInput(f"The {what} is empty.", code="empty")
    for char in text:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            raise InvalidInput(f"The {what} contains the control character {char!r}.")
        if char in BIDI_CONTROLS:
            raise InvalidInput(
                f"The {what} contains the invisible direction control U+{ord(char):04X} "
                f"({unicodedata.name(char)}), which could make it read differently from what was typed.",
                code="bidi_control",
            )
    return text


def without_bidi_controls(name: str) -> str:
    """A display name with the direction controls removed (see BIDI_CONTROLS)."""
    return "".join(c for c in name if c not in BIDI_CONTROLS)


@dataclass(frozen=True)
class ChatMessage:
    id: str
    participant_id: str
    name: str
    text: str
    at: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "participant_id": self.participant_id, "name": self.name, "text": self.text, "at": self.at}


@dataclass(frozen=True)
class Question:
    id: str
    participant_id: str
    name: str
    text: str
    at: str
    upvoters: frozenset[str] = field(default_factory=frozenset)
    answered: bool = False

    def upvote(self, participant_id: str) -> Question:
        return replace(self, upvoters=self.upvoters | {participant_id})

    def public(self, upvotes: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "name": self.name,
            "text": self.text,
            "upvotes": len(self.upvoters) if upvotes is None else upvotes,
            "answered": self.answered,
            "at": self.at,
        }


@dataclass
class History:
    chat: list[ChatMessage]
    deleted: set[str]
    questions: dict[str, Question]

    def visible_chat(self, limit: int = RECENT_CHAT) -> list[ChatMessage]:
        return [m for m in self.chat if m.id not in self.deleted][-limit:]


def replay(events: Iterable[LogEvent]) -> History:
    """Chat (messages minus deletions) and questions (with upvoters and answered) from the log, in log order."""
    names: dict[str, str] = {}
    history = History(chat=[], deleted=set(), questions={})
    for event in events:
        pid = event.participant_id or ""
        data = event.data
        if event.type is EventType.JOINED:
            names[pid] = str(data.get("name", ""))
        elif event.type is EventType.CHAT_MESSAGE and "id" in data:
            history.chat.append(ChatMessage(data["id"], pid, names.get(pid, ""), str(data.get("text", "")), iso_z(event.at)))
        elif event.type is EventType.CHAT_DELETED and "id" in data:
            history.deleted.add(data["id"])
        elif event.type is EventType.QA_ASKED and "id" in data:
            history.questions[data["id"]] = Question(
                data["id"], pid, names.get(pid, ""), str(data.get("text", "")), iso_z(event.at)
            )
        elif event.type is EventType.QA_UPVOTED and data.get("id") in history.questions:
            history.questions[data["id"]] = history.questions[data["id"]].upvote(pid)
        elif event.type is EventType.QA_ANSWERED and data.get("id") in history.questions:
            history.questions[data["id"]] = replace(history.questions[data["id"]], answered=True)
    return history


# Questions a joiner's `room.state` carries (444 kB were seen with every question of a busy webinar): the
# TOP_OPEN most upvoted open ones, then the most recent up to STATE_QUESTIONS; `qa.list` pages the rest.
STATE_QUESTIONS = 50
TOP_OPEN = 25
# Questions one `qa.list` page holds at most (and by default).
PAGE_MAX = 100
PAGE_DEFAULT = 50


def check_question_room(asked: int, most: int) -> None:
    """`asked` counts this question too; refuses once the session holds `most` (`Settings.max_questions`)."""
    if asked > most:
        raise Conflict(
            f"This session already has {most} questions, the most it takes; upvote one instead.",
            code="too_many_questions",
        )


def _newest_first(question: dict[str, Any]) -> tuple[str, str]:
    return (str(question["at"]), str(question["id"]))


def questions_for_state(questions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a joiner sees first: the most upvoted open questions and the most recent, at most STATE_QUESTIONS,
    oldest first (as they were asked)."""
    every = list(questions)
    top = sorted((q for q in every if not q["answered"]), key=lambda q: (-int(q["upvotes"]), q["at"], q["id"]))[:TOP_OPEN]
    chosen = {q["id"]: q for q in top}
    for question in sorted(every, key=_newest_first, reverse=True):
        if len(chosen) >= STATE_QUESTIONS:
            break
        chosen.setdefault(question["id"], question)
    return sorted(chosen.values(), key=_newest_first)


def page_questions(
    questions: Iterable[dict[str, Any]], before: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first: `limit` questions asked before the question `before` (from the newest when None), and
    the id to pass as `before` for the next page (None on the last page)."""
    ordered = sorted(questions, key=_newest_first, reverse=True)
    start = 0
    if before is not None:
        ids = [q["id"] for q in ordered]
        if before not in ids:
            raise NotFound(f"Question {before!r} does not exist in this session.")
        start = ids.index(before) + 1
    page = ordered[start : start + limit]
    more = start + limit < len(ordered)
    return page, (page[-1]["id"] if more and page else None)
