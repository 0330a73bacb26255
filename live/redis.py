"""The one way the app reaches Redis: a client factory and the convention every per-session key follows.

Each store that keeps realtime state in Redis (presence in `live.rooms.presence`, chat's cache in
`live.chat.store`, the polls' board in `live.polls.board`, the speakers in `live.speakers.store`, the
recording under way in `live.recordings.current`) owns its keys and documents them in its own
docstring. They all live under one prefix per session, `live:{session}:` (`session_key`), so a
session's state is easy to inspect and goes in one sweep (`drop_session_keys`, run by presence when
`live.rooms.retention` forgets a session). Keys that belong to no session are `live:` followed by one
of NOT_SESSIONS (a process's heartbeat and connections, the status channel, the login throttle, the
registration limit per address).

One small hash is shared, kept from before the stores were split so that a rolling restart keeps it:
`live:{session}:h:kv` (`kv_key`). Each of its fields has one owner:
    status            presence: the session's status (scheduled | live | ended)
    removals_loaded   presence: "1" once removals were reloaded from the event log
    empty             presence: the mark of a one-on-one's grace timer (the room emptied)
    chat_loaded       chat: "loading" | "done", the cache's rebuild from the event log
    recording         recordings: the recording under way, `{"id", "since"}`
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

# redis-py's asyncio pool refuses the 101st concurrent command (`MaxConnectionsError`) rather than
# wait, and a join or vote storm has hundreds in flight per process (bench/fanout.py: 500 attendees
# on two processes failed a third of their votes). A blocking pool queues them on REDIS_POOL
# connections instead, waiting at most REDIS_POOL_WAIT seconds for one.
REDIS_POOL = 64
REDIS_POOL_WAIT = 10.0

# The second part of `live:*` keys that name no session (see the module docstring).
NOT_SESSIONS = frozenset({"proc", "procs", "status", "login", "register"})


def redis_client(url: str) -> Any:
    """A `redis.asyncio.Redis` (strings in and out) whose callers wait for a free connection.

    Typed `Any`: redis-py's command stubs return `str | bytes` even with `decode_responses`, which
    would put a cast on every read; each store converts what it reads into its own types instead."""
    from live.autopipeline import AutoPipelineRedis

    pool = redis.BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=REDIS_POOL, timeout=REDIS_POOL_WAIT
    )
    # Commands issued in one loop turn share one round trip (a join storm issues thousands at once).
    return AutoPipelineRedis.from_pool(pool)


def session_key(session_id: str, *parts: str) -> str:
    """A key of one session's realtime state: `live:{session}:{parts...}`."""
    return ":".join(("live", session_id, *parts))


def kv_key(session_id: str) -> str:
    """The session's small shared hash (its fields and their owners are in the module docstring)."""
    return session_key(session_id, "h", "kv")


def glob_escape(text: str) -> str:
    """`text` matched literally in a Redis SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


async def sessions_with_keys(client: Any) -> set[str]:
    """Every session that has a key in Redis (one SCAN over `live:*`)."""
    ids: set[str] = set()
    async for key in client.scan_iter(match="live:*", count=1000):
        parts = str(key).split(":")
        if len(parts) >= 3 and parts[1] not in NOT_SESSIONS:
            ids.add(parts[1])
    return ids


async def drop_session_keys(client: Any, session_id: str) -> int:
    """Deletes every key of one session, whichever store owns it; returns how many there were."""
    pattern = session_key(glob_escape(session_id), "*")
    keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
    for start in range(0, len(keys), 500):
        await client.unlink(*keys[start : start + 500])
    return len(keys)
