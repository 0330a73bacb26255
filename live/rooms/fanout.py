"""Socket.IO fan-out through Redis that refuses, rather than silently drops, a message no process heard,
and that gathers a join storm's announcements to the staff into one Redis message per window.

python-socketio's `AsyncRedisManager` publishes every emit on a Redis channel, and each process (the
sender's too) delivers it to its own clients when it hears it back. With Redis down the library logs
and drops the message after one retry, and once Redis is back each process resubscribes after a backoff
of up to a minute (python-socketio issue #1411): meanwhile a publish reaches nobody, yet the event that
caused it would be acknowledged. Redis's PUBLISH answers how many subscribers heard it;
`RefusingRedisManager` raises when none did (or the publish failed), so the event's ack is `unavailable`
and the client knows to retry. Only emits made while a client event is handled refuse (`REFUSE_UNHEARD`,
set by the namespace's dispatch); background emits (welcomes, live poll results) keep the library's
behaviour. Known limit: with several processes, "some heard" passes even if one is still resubscribing.

Coalescing (`emit_soon`): when thousands of attendees join a webinar within seconds, each arrival is
announced to the hosts (`presence.joined` to the staff room). One Redis message per arrival is one
PUBLISH on the joining process and one message to decode on every process. `emit_soon` holds such
emits for up to `COALESCE_WINDOW` and publishes them together as one `live.batch` message; each
process still delivers every event in it, in order, to its own sockets (the hosts still get one
`presence.joined` per person, as before). Order is kept: any other emit of this process first
releases what is held, so nothing sent later by this process overtakes an announcement (except a
`room.state` sent straight to a newcomer's socket with `ignore_queue`: it may list someone whose
arrival the hosts hear of a moment later).

Admission (`AdmissionTracking`, in both managers): python-socketio keeps the sids it is still
admitting in a list per namespace, tested with `in` and removed from on every connect; in a join
storm thousands wait there at once (each for its `connect` handler's Redis step), so every admission
cost O(pending). Here they are an insertion-ordered set. And the namespace hears when Socket.IO has
sent a socket's CONNECT (`connected_listeners`), so its `room.state` goes out then, with no polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextvars import ContextVar
from typing import Any, cast

import socketio
from redis.exceptions import ConnectionError as RedisConnectionError

REFUSE_UNHEARD: ContextVar[bool] = ContextVar("refuse_unheard", default=False)

# Longest an announcement waits to be published with the others of its window (seconds).
COALESCE_WINDOW = 0.1
# The pub/sub method of a message carrying several emits (older processes ignore it).
BATCH = "live.batch"


class SidSet(dict[str, None]):
    """The sids python-socketio's manager holds pending in one namespace: it appends, removes and tests
    with `in` as on the list it would have made, each in O(1) here."""

    def append(self, sid: str) -> None:
        self[sid] = None

    def remove(self, sid: str) -> None:
        del self[sid]


class SidSetsByNamespace(dict[str, SidSet]):
    """`pending_connect` / `pending_disconnect`: whatever list the manager stores becomes a `SidSet`."""

    def __setitem__(self, namespace: str, sids: Iterable[str]) -> None:
        if not isinstance(sids, SidSet):
            sids = SidSet((sid, None) for sid in sids)
        super().__setitem__(namespace, sids)


ConnectedListener = Callable[[str, str], None]


class AdmissionTracking:
    """Mixin for a python-socketio manager: O(1) pending sets, and listeners called with (sid, namespace)
    once a socket is connected (its CONNECT packet sent), in the order sockets were connected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending_connect = SidSetsByNamespace()
        self.pending_disconnect = SidSetsByNamespace()
        self.connected_listeners: list[ConnectedListener] = []

    async def connect(self, sid: str, namespace: str) -> str:
        sid = await cast(Any, super()).connect(sid, namespace)
        for listener in self.connected_listeners:
            listener(sid, namespace)
        return sid


class LocalManager(AdmissionTracking, socketio.AsyncManager):  # type: ignore[misc]
    """The single-process manager (no Redis)."""


class RefusingRedisManager(AdmissionTracking, socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._releasing = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _publish(self, data: Any) -> Any:
        heard = await super()._publish(data)
        if REFUSE_UNHEARD.get() and not heard:
            raise RedisConnectionError("no process heard the message on Redis (down, or its subscribers are reconnecting)")
        return heard

    # --- coalescing ---------------------------------------------------------------------------
    async def emit_soon(self, event: str, data: dict[str, Any], *, namespace: str, room: str, skip_sid: str | None = None) -> None:
        """Emits `event` to `room` on every process within COALESCE_WINDOW, in one Redis message with the
        other emits held meanwhile (JSON payloads without callbacks or binary data only)."""
        self._held.append(
            {
                "method": "emit", "event": event, "data": [data], "binary": False, "namespace": namespace,
                "room": room, "skip_sid": skip_sid, "callback": None, "host_id": self.host_id,
            }
        )  # fmt: skip
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(COALESCE_WINDOW, self._release_later)

    def _release_later(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self.release())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def release(self) -> None:
        """Delivers what is held to this process's sockets, then publishes it to the others as one message."""
        async with self._releasing:
            held, self._held = self._held, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not held:
                return
            # Announcements are background work: a failed publish is logged by the library, not refused.
            refusing = REFUSE_UNHEARD.set(False)
            try:
                for message in held:
                    await self._handle_emit(message)
                await self._publish({"method": BATCH, "messages": held, "host_id": self.host_id})
            finally:
                REFUSE_UNHEARD.reset(refusing)

    async def emit(self, event: str, data: Any, namespace: str | None = None, room: str | None = None, **kwargs: Any) -> Any:
        if not kwargs.get("ignore_queue") and (self._held or self._releasing.locked()):
            await self.release()  # what this process announced before goes out before this
        return await super().emit(event, data, namespace=namespace, room=room, **kwargs)

    async def _listen(self) -> AsyncIterator[Any]:
        """Unpacks `live.batch` messages into the emits they carry (other messages pass as they are)."""
        async for raw in super()._listen():
            try:
                data = self.json.loads(raw)
            except Exception:
                continue
            if isinstance(data, dict) and data.get("method") == BATCH:
                if data.get("host_id") == self.host_id:
                    continue  # delivered here when it was released
                for message in data.get("messages") or []:
                    if isinstance(message, dict):
                        yield message
            else:
                yield data
