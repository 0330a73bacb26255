"""Chat's and Q&A's room cache: recent messages, deletions, questions and upvotes, per session.

The event log stays the truth: a cache that is empty (a restart without Redis) is rebuilt from it
(`restore`, run once per session across processes: `claim_load` / `finish_load`). In memory for one
process (`MemoryChatStore`), in Redis for several (`RedisChatStore`); handlers pass and get
`ChatMessage` and `Question` values, never their JSON.

Redis key layout (under the session's prefix, `live.redis`):
    live:{session}:l:chat          list  recent chat messages as JSON {id, participant_id, name, text, at}
                                         (the newest KEEP_CHAT)
    live:{session}:s:chat_deleted  set   ids of deleted messages
    live:{session}:h:questions     hash  question id -> JSON {id, participant_id, name, text, at, answered}
    live:{session}:s:upvotes:{id}  set   who upvoted a question (one per person, atomic)
    live:{session}:n:upvotes       hash  question id -> its upvotes (moved with each new member of
                                         `upvotes:{id}`), so `room.state` reads every count in one step
    live:{session}:n:qa            hash  `asked`: questions taken, against `Settings.max_questions`
    live:{session}:h:kv            field `chat_loaded`: "loading" | "done", the rebuild from the log
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from live.chat.model import KEEP_CHAT, ChatMessage, History, Question
from live.redis import kv_key, session_key
from live.rooms.stores import MemoryStore, RedisStore, Store, store_ctx

LOADED_FIELD = "chat_loaded"


def _question(data: dict[str, Any]) -> Question:
    return Question(data["id"], data["participant_id"], data["name"], data["text"], data["at"], answered=data["answered"])


def _question_json(question: Question) -> str:
    """A question as stored: without its upvotes, which are counted apart."""
    data = question.public()
    del data["upvotes"]
    return json.dumps(data)


class ChatStore(Store):
    """The interface chat's handlers use; each method is one atomic step as other processes see it."""

    @abc.abstractmethod
    async def add_message(self, session_id: str, message: ChatMessage) -> None:
        """Keeps a message, dropping the oldest beyond KEEP_CHAT."""

    @abc.abstractmethod
    async def messages(self, session_id: str) -> list[ChatMessage]:
        """The kept messages, oldest first, deleted ones included (see `deleted`)."""

    @abc.abstractmethod
    async def delete_message(self, session_id: str, message_id: str) -> bool:
        """Marks a message deleted; True when it was not already."""

    @abc.abstractmethod
    async def deleted(self, session_id: str) -> set[str]: ...

    @abc.abstractmethod
    async def take_question(self, session_id: str, count: int = 1) -> int:
        """Counts `count` more questions asked; returns how many the session has taken with them."""

    @abc.abstractmethod
    async def put_question(self, session_id: str, question: Question) -> None:
        """Stores a new or changed question (its upvoters are kept apart: `upvote`)."""

    @abc.abstractmethod
    async def question(self, session_id: str, question_id: str) -> Question | None: ...

    @abc.abstractmethod
    async def questions(self, session_id: str) -> list[Question]: ...

    @abc.abstractmethod
    async def question_count(self, session_id: str) -> int: ...

    @abc.abstractmethod
    async def upvote(self, session_id: str, question_id: str, voter: str) -> tuple[bool, int]:
        """Adds one person's upvote; returns (whether it was new, the question's upvotes)."""

    @abc.abstractmethod
    async def upvotes(self, session_id: str) -> dict[str, int]:
        """Question id -> upvotes, for every question upvoted at least once."""

    @abc.abstractmethod
    async def loaded(self, session_id: str) -> bool:
        """Whether the cache was rebuilt from the event log (or found full) already."""

    @abc.abstractmethod
    async def claim_load(self, session_id: str) -> bool:
        """True for the one caller, on any process, that should rebuild the cache (`restore`)."""

    @abc.abstractmethod
    async def finish_load(self, session_id: str) -> None: ...

    async def restore(self, session_id: str, history: History) -> None:
        """Fills an empty cache with what the event log says (the caller claimed the load)."""
        for message in history.chat[-KEEP_CHAT:]:
            await self.add_message(session_id, message)
        for message_id in history.deleted:
            await self.delete_message(session_id, message_id)
        for question in history.questions.values():
            await self.put_question(session_id, question)
            for voter in question.upvoters:
                await self.upvote(session_id, question.id, voter)
        if history.questions:
            await self.take_question(session_id, len(history.questions))


@dataclass
class _Room:
    messages: list[ChatMessage] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    asked: int = 0
    questions: dict[str, Question] = field(default_factory=dict)
    upvoters: dict[str, set[str]] = field(default_factory=dict)
    load: str | None = None


class MemoryChatStore(MemoryStore[_Room], ChatStore):
    """One process."""

    def __init__(self) -> None:
        super().__init__(_Room)

    async def add_message(self, session_id: str, message: ChatMessage) -> None:
        messages = self._session(session_id).messages
        messages.append(message)
        del messages[: max(0, len(messages) - KEEP_CHAT)]

    async def messages(self, session_id: str) -> list[ChatMessage]:
        room = self._known(session_id)
        return list(room.messages) if room else []

    async def delete_message(self, session_id: str, message_id: str) -> bool:
        deleted = self._session(session_id).deleted
        new = message_id not in deleted
        deleted.add(message_id)
        return new

    async def deleted(self, session_id: str) -> set[str]:
        room = self._known(session_id)
        return set(room.deleted) if room else set()

    async def take_question(self, session_id: str, count: int = 1) -> int:
        room = self._session(session_id)
        room.asked += count
        return room.asked

    async def put_question(self, session_id: str, question: Question) -> None:
        self._session(session_id).questions[question.id] = Question(
            question.id, question.participant_id, question.name, question.text, question.at, answered=question.answered
        )

    async def question(self, session_id: str, question_id: str) -> Question | None:
        room = self._known(session_id)
        return room.questions.get(question_id) if room else None

    async def questions(self, session_id: str) -> list[Question]:
        room = self._known(session_id)
        return list(room.questions.values()) if room else []

    async def question_count(self, session_id: str) -> int:
        room = self._known(session_id)
        return len(room.questions) if room else 0

    async def upvote(self, session_id: str, question_id: str, voter: str) -> tuple[bool, int]:
        voters = self._session(session_id).upvoters.setdefault(question_id, set())
        new = voter not in voters
        voters.add(voter)
        return new, len(voters)

    async def upvotes(self, session_id: str) -> dict[str, int]:
        room = self._known(session_id)
        return {qid: len(voters) for qid, voters in room.upvoters.items() if voters} if room else {}

    async def loaded(self, session_id: str) -> bool:
        room = self._known(session_id)
        return room is not None and room.load == "done"

    async def claim_load(self, session_id: str) -> bool:
        room = self._session(session_id)
        if room.load is not None:
            return False
        room.load = "loading"
        return True

    async def finish_load(self, session_id: str) -> None:
        self._session(session_id).load = "done"


class RedisChatStore(RedisStore, ChatStore):
    """Several processes on one Redis; the key layout is in the module docstring."""

    async def add_message(self, session_id: str, message: ChatMessage) -> None:
        key = session_key(session_id, "l", "chat")
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.rpush(key, json.dumps(message.public())).ltrim(key, -KEEP_CHAT, -1).execute()

    async def messages(self, session_id: str) -> list[ChatMessage]:
        raw = await self._redis.lrange(session_key(session_id, "l", "chat"), 0, -1)
        return [ChatMessage(**json.loads(item)) for item in raw]

    async def delete_message(self, session_id: str, message_id: str) -> bool:
        return bool(await self._redis.sadd(session_key(session_id, "s", "chat_deleted"), message_id))

    async def deleted(self, session_id: str) -> set[str]:
        return set(await self._redis.smembers(session_key(session_id, "s", "chat_deleted")))

    async def take_question(self, session_id: str, count: int = 1) -> int:
        return int(await self._redis.hincrby(session_key(session_id, "n", "qa"), "asked", count))

    async def put_question(self, session_id: str, question: Question) -> None:
        await self._redis.hset(session_key(session_id, "h", "questions"), question.id, _question_json(question))

    async def question(self, session_id: str, question_id: str) -> Question | None:
        raw = await self._redis.hget(session_key(session_id, "h", "questions"), question_id)
        return None if raw is None else _question(json.loads(raw))

    async def questions(self, session_id: str) -> list[Question]:
        raw = await self._redis.hgetall(session_key(session_id, "h", "questions"))
        return [_question(json.loads(item)) for item in raw.values()]

    async def question_count(self, session_id: str) -> int:
        return int(await self._redis.hlen(session_key(session_id, "h", "questions")))

    async def upvote(self, session_id: str, question_id: str, voter: str) -> tuple[bool, int]:
        voters = session_key(session_id, "s", f"upvotes:{question_id}")
        async with self._redis.pipeline(transaction=True) as pipe:
            added, size = await pipe.sadd(voters, voter).scard(voters).execute()
        if added:
            await self._redis.hincrby(session_key(session_id, "n", "upvotes"), question_id, 1)
        return bool(added), int(size)

    async def upvotes(self, session_id: str) -> dict[str, int]:
        raw = await self._redis.hgetall(session_key(session_id, "n", "upvotes"))
        return {qid: int(count) for qid, count in raw.items()}

    async def loaded(self, session_id: str) -> bool:
        return bool(await self._redis.hget(kv_key(session_id), LOADED_FIELD) == "done")

    async def claim_load(self, session_id: str) -> bool:
        return bool(await self._redis.hsetnx(kv_key(session_id), LOADED_FIELD, "loading"))

    async def finish_load(self, session_id: str) -> None:
        await self._redis.hset(kv_key(session_id), LOADED_FIELD, "done")


CHAT_STORE: web.AppKey[ChatStore] = web.AppKey("chat_store")
chat_store_ctx = store_ctx(CHAT_STORE, MemoryChatStore, RedisChatStore)
