"""The attendees of `bench/fanout.py`: one OS process holding many python-socketio clients, driven over a pipe.

The parent sends `(command, kwargs)` and gets one reply per command:
- `ready`: answers once the process is up;
- `join`: at the absolute time `at` every client connects at once (refused ones retry); replies with when each got `room.state`;
- `collect_chat`: the chat latencies recorded since the last collect, and how many copies of each message arrived;
- `wait_poll`: waits until every client has `poll.opened`;
- `vote`: at `at` every client sends `poll.vote` (without waiting for acks in between), then waits for the acks;
- `stop`: exits without disconnecting (a clean disconnect of thousands would only measure `presence.left`).

Chat messages carry `bench <seq> <time.time() at send>`; the clock is shared by every process on the machine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from array import array
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import socketio

NAMESPACE = "/live"
# Refused joins retry this many at a time per client process.
RETRY_AT_ONCE = 20
# Longest one connection attempt may take before it counts as refused.
ATTEMPT_LIMIT = 60.0


def abandon(attendee: Attendee) -> None:
    """Closes a failed attempt in the background (never awaited: it may hang)."""
    task = asyncio.ensure_future(asyncio.wait_for(attendee.sio.disconnect(), 10))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Attendee:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        # Generous timeouts: in a storm the server may take a while to accept everyone.
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=30, handle_sigint=False)
        self.state_at: float | None = None
        self.connected_at: float | None = None  # Socket.IO's CONNECT arrived (admitted; `room.state` follows)
        self.joined = asyncio.Event()
        self.poll_opened = asyncio.Event()
        self.sio.on("room.state", self._room_state, namespace=NAMESPACE)
        self.sio.on("chat.message", self._chat, namespace=NAMESPACE)
        self.sio.on("poll.opened", self._poll_opened, namespace=NAMESPACE)
        self.sio.on("connect_error", self._refused, namespace=NAMESPACE)
        self.sio.on("connect", self._connected, namespace=NAMESPACE)
        self.sio.on("disconnect", self._gone, namespace=NAMESPACE)
        self.refusal: Any = None
        self.gone = False

    async def _gone(self, *args: Any) -> None:
        self.gone = True

    async def _connected(self) -> None:
        self.connected_at = time.time()

    async def _refused(self, data: Any = None) -> None:
        self.refusal = data

    async def _room_state(self, data: Any) -> None:
        self.state_at = time.time()
        self.joined.set()

    async def _chat(self, data: Any) -> None:
        now = time.time()
        parts = data["text"].split(" ", 3)
        if parts[0] == "bench":
            self.worker.latencies.append(now - float(parts[2]))
            self.worker.seen[int(parts[1])] += 1

    async def _poll_opened(self, data: Any) -> None:
        self.poll_opened.set()


class Worker:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.attendees: list[Attendee] = []
        self.latencies = array("d")
        self.seen: Counter[int] = Counter()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, kwargs = await loop.run_in_executor(None, self.conn.recv)
            if command == "stop":
                self.conn.send({"pid": os.getpid()})
                return
            self.conn.send(await getattr(self, command)(**kwargs))

    async def ready(self) -> dict[str, Any]:
        return {"pid": os.getpid()}

    async def join(self, at: float, targets: list[tuple[str, dict[str, str]]], limit: float) -> dict[str, Any]:
        async def attempt(attendee: Attendee, url: str, auth: dict[str, str]) -> None:
            await attendee.sio.connect(url, auth=auth, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=limit)
            await attendee.joined.wait()

        async def one(attendee: Attendee, url: str, auth: dict[str, str]) -> str | None:
            # Bounded: a refused python-socketio client can hang in its own disconnect for a long time.
            try:
                await asyncio.wait_for(attempt(attendee, url, auth), max(1.0, min(ATTEMPT_LIMIT, at + limit - time.time())))
                return None
            except Exception as exc:  # a refused or timed-out join is counted, not fatal
                why = f" {attendee.refusal}" if attendee.refusal is not None else ""
                return f"{type(exc).__name__}: {exc}{why}"[:200]

        batch = [Attendee(self) for _ in targets]
        await asyncio.sleep(max(0.0, at - time.time()))
        errors = await asyncio.gather(*(one(a, url, auth) for a, (url, auth) in zip(batch, targets, strict=True)))
        failed = sum(1 for e in errors if e is not None)
        for attendee, error in zip(batch, errors, strict=True):
            if error is not None:
                abandon(attendee)
        # Like a page told "try again": whoever was refused retries, RETRY_AT_ONCE at a time per process,
        # until everyone is in or the time is up, so the later phases still see N attendees.
        joined = [a for a, e in zip(batch, errors, strict=True) if e is None]
        waiting = [t for t, e in zip(targets, errors, strict=True) if e is not None]
        gate = asyncio.Semaphore(RETRY_AT_ONCE)

        async def retry(url: str, auth: dict[str, str]) -> None:
            while time.time() < at + limit:
                attendee = Attendee(self)
                async with gate:
                    error = await one(attendee, url, auth)
                if error is None:
                    joined.append(attendee)
                    return
                abandon(attendee)
                await asyncio.sleep(1.0)

        await asyncio.gather(*(retry(url, auth) for url, auth in waiting))
        self.attendees.extend(joined)
        return {
            "state_at": [a.state_at for a in joined if a.state_at is not None],
            "connected_at": [a.connected_at for a in joined if a.state_at is not None and a.connected_at is not None],
            "failed": failed,
            "errors": sorted({e for e in errors if e is not None})[:5],
        }

    @property
    def present(self) -> list[Attendee]:
        return [a for a in self.attendees if a.state_at is not None and not a.gone]

    async def collect_chat(self) -> dict[str, Any]:
        latencies, self.latencies = self.latencies, array("d")
        seen, self.seen = self.seen, Counter()
        dropped = sum(1 for a in self.attendees if a.state_at is not None and a.gone)
        return {"latencies": latencies, "seen": dict(seen), "present": len(self.present), "dropped": dropped}

    async def wait_poll(self, limit: float) -> dict[str, Any]:
        present = self.present
        try:
            await asyncio.wait_for(asyncio.gather(*(a.poll_opened.wait() for a in present)), limit)
        except TimeoutError:
            pass
        return {"opened": sum(1 for a in present if a.poll_opened.is_set()), "present": len(present)}

    async def vote(self, at: float, poll_id: str, options: int, offset: int, limit: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        present = self.present
        acks: list[asyncio.Future[Any]] = [loop.create_future() for _ in present]
        acked_at: list[float] = []

        def on_ack(future: asyncio.Future[Any]) -> Any:
            def done(*args: Any) -> None:
                acked_at.append(time.time())
                if not future.done():
                    future.set_result(args[0] if args else None)

            return done

        await asyncio.sleep(max(0.0, at - time.time()))
        first = time.time()
        for n, (attendee, future) in enumerate(zip(present, acks, strict=True)):
            choice = (offset + n) % options
            await attendee.sio.emit(
                "poll.vote", {"poll_id": poll_id, "choices": [choice]}, namespace=NAMESPACE, callback=on_ack(future)
            )
        last = time.time()
        try:
            await asyncio.wait_for(asyncio.gather(*acks), limit)
        except TimeoutError:
            pass
        replies = [f.result() for f in acks if f.done()]
        ok = sum(1 for r in replies if isinstance(r, dict) and r.get("ok"))
        errors = sorted({str(r.get("error") if isinstance(r, dict) else r) for r in replies if not (isinstance(r, dict) and r.get("ok"))})
        return {
            "first_sent": first,
            "last_sent": last,
            "sent": len(present),
            "acked_ok": ok,
            "last_ack": max(acked_at) if acked_at else None,
            "errors": errors[:5],
        }


def run(conn: Connection) -> None:
    """The worker process's entry point (multiprocessing, spawn)."""
    raise_fd_limit()
    # A client whose server sent nothing for ping_interval + ping_timeout logs "packet queue is empty,
    # aborting" and drops; the bench counts drops (`dropped`) instead of printing thousands of lines.
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    try:
        asyncio.run(Worker(conn).serve())
    finally:
        conn.close()
        # Skip closing hundreds of sockets one by one: the process is done and the kernel closes them.
        os._exit(0)
