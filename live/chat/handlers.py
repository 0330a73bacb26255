"""Socket.IO handlers of chat and Q&A, and their parts of `room.state`; the room cache lives in `RoomState`.

Room cache (shared across processes in Redis mode), per session:
    list  `chat`          recent chat messages as JSON (newest KEEP_CHAT)
    set   `chat_deleted`  ids of deleted messages
    hash  `questions`     question id -> JSON {id, participant_id, name, text, at, answered}
    set   `upvotes:{id}`  who upvoted a question (one per person, atomic)
    counters `upvotes`    question id -> its upvotes (moved with each new member of `upvotes:{id}`), so
                          `room.state` reads every count in one step
    counters `qa`         `asked`: questions taken, against `Settings.max_questions`
The event log stays the truth: a room whose cache is empty (a restart without Redis) is rebuilt
from it by `ensure_loaded` before the first joiner's `room.state`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import web

from live.chat.events import (
    ChatDeletedOut,
    ChatMessageOut,
    IdIn,
    QaListIn,
    QuestionAskedOut,
    QuestionUpdatedOut,
    TextIn,
)
from live.chat.model import (
    KEEP_CHAT,
    RECENT_CHAT,
    ChatMessage,
    Question,
    check_question_room,
    check_text,
    page_questions,
    questions_for_state,
    replay,
)
from live.errors import Conflict, NotFound
from live.events.model import EventType
from live.events.store import session_events
from live.isotime import iso_z
from live.rooms.dispatch import ANY_STATUS, Ctx, EventRegistry, now
from live.rooms.model import ATTENDEES, STAFF, RateKind
from live.rooms.state import RoomState
from live.typedefs import ENGINE, EVENT_WRITER, ROOM_STATE, ROOM_STATE_PARTS

_LOADED = "chat_loaded"
_LOCKS: web.AppKey[dict[str, asyncio.Lock]] = web.AppKey("chat_load_locks")


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("chat.send", send, TextIn, rate=RateKind.CHAT)
    registry.add("chat.delete", delete, IdIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("qa.ask", ask, TextIn, roles=ATTENDEES, rate=RateKind.CHAT)
    registry.add("qa.upvote", upvote, IdIn, roles=ATTENDEES, rate=RateKind.CHAT)
    registry.add("qa.answer", answer, IdIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("qa.list", list_questions, QaListIn, rate=RateKind.QUERY, statuses=ANY_STATUS)
    registry.on_join.append(ensure_loaded)
    app[_LOCKS] = {}
    app[ROOM_STATE_PARTS]["chat"] = chat_part
    app[ROOM_STATE_PARTS]["questions"] = questions_part
    app[ROOM_STATE_PARTS]["questions_total"] = questions_total_part


def new_id() -> str:
    return uuid.uuid4().hex


# --- chat -----------------------------------------------------------------------------------
async def send(ctx: Ctx, body: TextIn) -> dict[str, Any]:
    text = check_text(body.text)
    message_id, at = new_id(), now()
    message = ChatMessage(message_id, ctx.me.participant_id, ctx.me.name, text, iso_z(at))
    # Room state and fan-out first, the log last: with Redis unreachable (or no process listening: see
    # live.rooms.fanout) the message is refused as `unavailable` and not logged, so the log never counts a
    # message its sender was told had failed. (It may stay in the room's recent-chat cache.)
    ctx.app[EVENT_WRITER].ensure_open()
    await ctx.state.list_push(ctx.session_id, "chat", json.dumps(message.public()), KEEP_CHAT)
    await ctx.emit(ChatMessageOut.model_validate(message.public()))
    ctx.log(EventType.CHAT_MESSAGE, {"id": message_id, "text": text}, at=at)
    return {"id": message_id}


async def delete(ctx: Ctx, body: IdIn) -> dict[str, Any]:
    known = {json.loads(raw)["id"] for raw in await ctx.state.list_all(ctx.session_id, "chat")}
    if body.id not in known:
        raise NotFound(f"Chat message {body.id!r} does not exist in this session.")
    new, _ = await ctx.state.set_add(ctx.session_id, "chat_deleted", body.id)
    if new:
        ctx.log(EventType.CHAT_DELETED, {"id": body.id})
        await ctx.emit(ChatDeletedOut(id=body.id))
    return {"id": body.id}


async def chat_part(ctx: Ctx) -> list[dict[str, Any]]:
    deleted = await ctx.state.set_members(ctx.session_id, "chat_deleted")
    messages = [json.loads(raw) for raw in await ctx.state.list_all(ctx.session_id, "chat")]
    return [m for m in messages if m["id"] not in deleted][-RECENT_CHAT:]


# --- Q&A ------------------------------------------------------------------------------------
async def ask(ctx: Ctx, body: TextIn) -> dict[str, Any]:
    text = check_text(body.text, "question")
    check_question_room(await ctx.state.incr(ctx.session_id, "qa", "asked"), ctx.settings.max_questions)
    question_id, at = new_id(), now()
    question = Question(question_id, ctx.me.participant_id, ctx.me.name, text, iso_z(at))
    ctx.app[EVENT_WRITER].ensure_open()
    await _store_question(ctx.state, ctx.session_id, question)  # state, fan-out, then the log: as in `send`
    await ctx.emit(QuestionAskedOut.model_validate(question.public()))
    ctx.log(EventType.QA_ASKED, {"id": question_id, "text": text}, at=at)
    return {"id": question_id}


async def upvote(ctx: Ctx, body: IdIn) -> dict[str, Any]:
    question = await _question(ctx, body.id)
    new, count = await ctx.state.set_add(ctx.session_id, f"upvotes:{body.id}", ctx.me.participant_id)
    if not new:
        raise Conflict(f"You have already upvoted question {body.id!r}.", code="already_upvoted")
    await ctx.state.incr(ctx.session_id, "upvotes", body.id)
    ctx.log(EventType.QA_UPVOTED, {"id": body.id})
    await ctx.emit(QuestionUpdatedOut.model_validate(question.public(upvotes=count)))
    return {"id": body.id, "upvotes": count}


async def answer(ctx: Ctx, body: IdIn) -> dict[str, Any]:
    question = await _question(ctx, body.id)
    answered = Question(question.id, question.participant_id, question.name, question.text, question.at, answered=True)
    await _store_question(ctx.state, ctx.session_id, answered)
    ctx.log(EventType.QA_ANSWERED, {"id": body.id})
    count = (await ctx.state.counters(ctx.session_id, "upvotes")).get(body.id, 0)
    await ctx.emit(QuestionUpdatedOut.model_validate(answered.public(upvotes=count)))
    return {"id": body.id}


async def _all_questions(ctx: Ctx) -> list[dict[str, Any]]:
    stored = await ctx.state.hash_all(ctx.session_id, "questions")
    counts = await ctx.state.counters(ctx.session_id, "upvotes")
    return [json.loads(raw) | {"upvotes": counts.get(qid, 0)} for qid, raw in stored.items()]


async def questions_part(ctx: Ctx) -> list[dict[str, Any]]:
    return questions_for_state(await _all_questions(ctx))


async def questions_total_part(ctx: Ctx) -> int:
    """How many questions the session has: more than `questions` holds means `qa.list` has the rest."""
    return len(await ctx.state.hash_all(ctx.session_id, "questions"))


async def list_questions(ctx: Ctx, body: QaListIn) -> dict[str, Any]:
    page, next_before = page_questions(await _all_questions(ctx), body.before, body.limit)
    return {"questions": page, "next": next_before}


async def _question(ctx: Ctx, question_id: str) -> Question:
    raw = await ctx.state.hash_get(ctx.session_id, "questions", question_id)
    if raw is None:
        raise NotFound(f"Question {question_id!r} does not exist in this session.")
    data = json.loads(raw)
    return Question(data["id"], data["participant_id"], data["name"], data["text"], data["at"], answered=data["answered"])


async def _store_question(state: RoomState, session_id: str, question: Question) -> None:
    data = question.public()
    del data["upvotes"]
    await state.hash_set(session_id, "questions", question.id, json.dumps(data))


# --- rebuilding the cache from the event log ------------------------------------------------
async def ensure_loaded(app: web.Application, session_id: str) -> None:
    """Fills an empty room cache from the event log once (per session, across processes via the flag)."""
    state = app[ROOM_STATE]
    if await state.hash_get(session_id, "kv", _LOADED) == "done":
        return
    lock = app[_LOCKS].setdefault(session_id, asyncio.Lock())
    async with lock:
        if not await state.hash_set(session_id, "kv", _LOADED, "loading", only_new=True):
            return
        # Anything this process has queued must be in the database before it is read back.
        await app[EVENT_WRITER].flush()
        history = replay(
            await session_events(
                app[ENGINE],
                session_id,
                (
                    EventType.JOINED,
                    EventType.CHAT_MESSAGE,
                    EventType.CHAT_DELETED,
                    EventType.QA_ASKED,
                    EventType.QA_UPVOTED,
                    EventType.QA_ANSWERED,
                ),
            )
        )
        for message in history.chat[-KEEP_CHAT:]:
            await state.list_push(session_id, "chat", json.dumps(message.public()), KEEP_CHAT)
        for message_id in history.deleted:
            await state.set_add(session_id, "chat_deleted", message_id)
        for question in history.questions.values():
            await _store_question(state, session_id, question)
            for voter in question.upvoters:
                await state.set_add(session_id, f"upvotes:{question.id}", voter)
            if question.upvoters:
                await state.incr(session_id, "upvotes", question.id, len(question.upvoters))
        if history.questions:
            await state.incr(session_id, "qa", "asked", len(history.questions))
        await state.hash_set(session_id, "kv", _LOADED, "done")


