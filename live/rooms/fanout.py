"""Socket.IO fan-out through Redis that refuses, rather than silently drops, a message no process heard.

python-socketio's `AsyncRedisManager` publishes every emit on a Redis channel, and each process (the
sender's too) delivers it to its own clients when it hears it back. With Redis down the library logs
and drops the message after one retry, and once Redis is back each process resubscribes after a backoff
of up to a minute (python-socketio issue #1411): meanwhile a publish reaches nobody, yet the event that
caused it would be acknowledged. Redis's PUBLISH answers how many subscribers heard it;
`RefusingRedisManager` raises when none did (or the publish failed), so the event's ack is `unavailable`
and the client knows to retry. Only emits made while a client event is handled refuse (`REFUSE_UNHEARD`,
set by the namespace's dispatch); background emits (welcomes, live poll results) keep the library's
behaviour. Known limit: with several processes, "some heard" passes even if one is still resubscribing.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import socketio
from redis.exceptions import ConnectionError as RedisConnectionError

REFUSE_UNHEARD: ContextVar[bool] = ContextVar("refuse_unheard", default=False)


class RefusingRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    async def _publish(self, data: Any) -> Any:
        heard = await super()._publish(data)
        if REFUSE_UNHEARD.get() and not heard:
            raise RedisConnectionError("no process heard the message on Redis (down, or its subscribers are reconnecting)")
        return heard
