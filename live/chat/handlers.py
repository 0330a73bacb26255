"""Socket.IO handlers of chat and Q&A, and their parts of `room.state`.

The room cache (recent messages, deletions, questions, upvotes) is `live.chat.store` (`ctx.app[CHAT_STORE]`),
shared across processes in Redis mode. The event log stays the truth: a room whose cache is empty (a
restart without Redis) is rebuilt from it by `ensure_loaded` before the first joiner's `room.state`.
"""

from __future__ import annotations

import asyncio
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
    RECENT_CHAT,
    ChatMessage,
    Question,
    check_question_room,
    check_text,
    page_questions,
    questions_for_state,
    replay,
)
from live.chat.store import CHAT_STORE, chat_store_ctx
from live.errors import Conflict, NotFound
from live.events.model import EventType
from live.events.store import session_events
from live.isotime import iso_z
from live.rooms.dispatch import ANY_STATUS, Ctx, EventRegistry, now
from live.rooms.model import ATTENDEES, STAFF, RateKind
from live.typedefs import ENGINE, EVENT_WRITER, ROOM_STATE_PARTS

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
    app.cleanup_ctx.append(chat_store_ctx)
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
    await ctx.app[CHAT_STORE].add_message(ctx.session_id, message)
    await ctx.emit(ChatMessageOut.model_validate(message.public()))
    ctx.log(EventType.CHAT_MESSAGE, {"id": message_id, "text": text}, at=at)
    return {"id": message_id}


async def delete(ctx: Ctx, body: IdIn) -> dict[str, Any]:
    store = ctx.app[CHAT_STORE]
    if body.id not in {message.id for message in await store.messages(ctx.session_id)}:
        raise NotFound(f"Chat message {body.id!r} does not exist in this session.")
    new = await store.delete_message(ctx.session_id, body.id)
    if new:
        ctx.log(EventType.CHAT_DELETED, {"id": body.id})
        await ctx.emit(ChatDeletedOut(id=body.id))
    return {"id": body.id}


async def chat_part(ctx: Ctx) -> list[dict[str, Any]]:
    store = ctx.app[CHAT_STORE]
    deleted = await store.deleted(ctx.session_id)
    messages = await store.messages(ctx.session_id)
    return [m.public() for m in messages if m.id not in deleted][-RECENT_CHAT:]


# --- Q&A ------------------------------------------------------------------------------------
async def ask(ctx: Ctx, body: TextIn) -> dict[str, Any]:
    text = check_text(body.text, "question")
    check_question_room(await ctx.app[CHAT_STORE].take_question(ctx.session_id), ctx.settings.max_questions)
    question_id, at = new_id(), now()
    question = Question(question_id, ctx.me.participant_id, ctx.me.name, text, iso_z(at))
    ctx.app[EVENT_WRITER].ensure_open()
    await ctx.app[CHAT_STORE].put_question(ctx.session_id, question)  # state, fan-out, then the log: as in `send`
    await ctx.emit(QuestionAskedOut.model_validate(question.public()))
    ctx.log(EventType.QA_ASKED, {"id": question_id, "text": text}, at=at)
    return {"id": question_id}


async def upvote(ctx: Ctx, body: IdIn) -> dict[str, Any]:
    question = await _question(ctx, body.id)
    new, count = await ctx.app[CHAT_STORE].upvote(ctx.session_id, body.id, ctx.me.participant_id)
    if not new:
        raise Conflict(f"You have already upvoted question {body.id!r}.", code="already_upvoted")
    ctx.log(EventType.QA_UPVOTED, {"id": body.id})
    await ctx.emit(QuestionUpdatedOut.model_validate(question.public(upvotes=count)))
    return {"id": body.id, "upvotes": count}


async def answer(ctx: Ctx, body: IdIn) -> dict[str, Any]:
    question = await _question(ctx, body.id)
    answered = Question(question.id, question.participant_id, question.name, question.text, question.at, answered=True)
    await ctx.app[CHAT_STORE].put_question(ctx.session_id, answered)
    ctx.log(EventType.QA_ANSWERED, {"id": body.id})
    count = (await ctx.app[CHAT_STORE].upvotes(ctx.session_id)).get(body.id, 0)
    await ctx.emit(QuestionUpdatedOut.model_validate(answered.public(upvotes=count)))
    return {"id": body.id}


async def _all_questions(ctx: Ctx) -> list[dict[str, Any]]:
    store = ctx.app[CHAT_STORE]
    stored = await store.questions(ctx.session_id)
    counts = await store.upvotes(ctx.session_id)
    return [question.public(upvotes=counts.get(question.id, 0)) for question in stored]


async def questions_part(ctx: Ctx) -> list[dict[str, Any]]:
    return questions_for_state(await _all_questions(ctx))


async def questions_total_part(ctx: Ctx) -> int:
    """How many questions the session has: more than `questions` holds means `qa.list` has the rest."""
    return await ctx.app[CHAT_STORE].question_count(ctx.session_id)


async def list_questions(ctx: Ctx, body: QaListIn) -> dict[str, Any]:
    page, next_before = page_questions(await _all_questions(ctx), body.before, body.limit)
    return {"questions": page, "next": next_before}


async def _question(ctx: Ctx, question_id: str) -> Question:
    question = await ctx.app[CHAT_STORE].question(ctx.session_id, question_id)
    if question is None:
        raise NotFound(f"Question {question_id!r} does not exist in this session.")
    return question


# --- rebuilding the cache from the event log ------------------------------------------------
async def ensure_loaded(app: web.Application, session_id: str) -> None:
    """Fills an empty room cache from the event log once (per session, across processes via the flag)."""
    store = app[CHAT_STORE]
    if await store.loaded(session_id):
        return
    lock = app[_LOCKS].setdefault(session_id, asyncio.Lock())
    async with lock:
        if not await store.claim_load(session_id):
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
        await store.restore(session_id, history)
        await store.finish_load(session_id)


