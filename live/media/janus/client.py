"""Janus's HTTP API from aiohttp: one Janus session per node, plugin handles, requests and the event long-poll.

Janus answers a plugin request in one of two ways: synchronous requests (`create`, `list`,
`add_remote_publisher`, `publish_remotely`, ...) come back in the POST's response as `success`
with `plugindata`; asynchronous ones (`join`, `joinandconfigure`, `start`, anything carrying SDP)
are only acknowledged (`ack`) and their result arrives later as an `event` with the same
transaction on the session's long-poll (`GET /janus/<session>`). Events Janus sends on its own
(`webrtcup`, `hangup`, `detached`, a publisher leaving) carry the handle id as `sender` and go to
that handle's listener.

The long-poll doubles as the liveness check of the node: Janus answers it at least every 30 s
(a `keepalive` when nothing happened), which also keeps the session alive, and a node that dies
fails it at once (connection refused or reset). The session is then `lost`, every pending request
fails with `JanusUnavailable`, and `on_lost` tells the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

VIDEOROOM = "janus.plugin.videoroom"
# Janus holds a long-poll for up to 30 s; a little more before we call the node unresponsive.
POLL_TIMEOUT = 40.0
# A plain request (create, list, forward) is answered in milliseconds; SDP handling in well under one.
REQUEST_TIMEOUT = 10.0
# Seconds between keepalives: Janus's HTTP long-poll does not count as activity, and a session
# idle for the node's `session_timeout` (30 s in our configs) is destroyed with all its handles.
KEEPALIVE_INTERVAL = 5.0
# Events fetched per long-poll round trip (`maxev`): many viewers joining at once produce bursts.
MAX_EVENTS = 50

EventListener = Callable[[dict[str, Any]], None]


class JanusUnavailable(Exception):
    """The node does not answer (down, restarting, or our session on it is gone)."""


class JanusRequestError(Exception):
    """Janus or its plugin refused a request; `code` is Janus's numeric error code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusSession:
    """One Janus session on one node, with its long-poll running while it is open."""

    def __init__(self, http: aiohttp.ClientSession, url: str, *, name: str = "janus") -> None:
        self.url = url.rstrip("/")
        self.name = name
        self.id = 0
        self.lost = False
        self.on_lost: Callable[[], Awaitable[None]] | None = None
        self._http = http
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: dict[int, EventListener] = {}
        self._poll: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._counter = itertools.count()
        self._prefix = secrets.token_hex(4)

    @classmethod
    async def create(cls, http: aiohttp.ClientSession, url: str, *, name: str = "janus") -> JanusSession:
        session = cls(http, url, name=name)
        reply = await session._post(session.url, {"janus": "create"})
        session.id = int(reply["data"]["id"])
        session._poll = asyncio.ensure_future(session._long_poll())
        session._keepalive = asyncio.ensure_future(session._keep_alive())
        return session

    async def attach(self, plugin: str = VIDEOROOM, listener: EventListener | None = None) -> Handle:
        reply = await self._post(f"{self.url}/{self.id}", {"janus": "attach", "plugin": plugin})
        handle = Handle(self, int(reply["data"]["id"]))
        if listener is not None:
            self._listeners[handle.id] = listener
        return handle

    async def exists(self, session_id: int) -> bool:
        """Whether a Janus session (maybe another process's) is still alive on this node."""
        try:
            await self._post(f"{self.url}/{session_id}", {"janus": "keepalive"})
        except JanusRequestError as exc:
            if exc.code == 458:  # JANUS_ERROR_SESSION_NOT_FOUND
                return False
            raise
        return True

    async def destroy(self) -> None:
        """Ends the session: Janus detaches its handles, which hangs up their peer connections."""
        if not self.lost:
            with contextlib.suppress(JanusUnavailable, JanusRequestError):
                await self._post(f"{self.url}/{self.id}", {"janus": "destroy"})
        await self._stop(lost=False)

    async def _stop(self, *, lost: bool) -> None:
        self.lost = self.lost or lost
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        self._keepalive = None
        if self._poll is not None and self._poll is not asyncio.current_task():
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        self._poll = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(JanusUnavailable(f"{self.name}: session {self.id} closed"))
        self._pending.clear()

    def _transaction(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"

    async def _post(self, url: str, body: dict[str, Any], transaction: str | None = None) -> dict[str, Any]:
        if self.lost:
            raise JanusUnavailable(f"{self.name} is unavailable (session {self.id} lost)")
        body = {**body, "transaction": transaction or self._transaction()}
        try:
            async with self._http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as resp:
                reply: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise JanusUnavailable(f"{self.name} at {self.url} does not answer: {exc!r}") from exc
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            raise JanusRequestError(int(error.get("code", 0)), str(error.get("reason", "unknown")))
        return reply

    async def _request(self, handle_id: int, body: dict[str, Any], jsep: dict[str, Any] | None) -> dict[str, Any]:
        """A plugin message; waits for its `event` when Janus only acknowledges it."""
        transaction = self._transaction()
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        try:
            reply = await self._post(f"{self.url}/{self.id}/{handle_id}", message, transaction)
            if reply.get("janus") == "ack":
                reply = await asyncio.wait_for(future, REQUEST_TIMEOUT)
        finally:
            self._pending.pop(transaction, None)
        data = reply.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusRequestError(int(data["error_code"]), str(data.get("error", "unknown")))
        return reply

    async def _long_poll(self) -> None:
        url = f"{self.url}/{self.id}"
        timeout = aiohttp.ClientTimeout(total=POLL_TIMEOUT)
        while True:
            try:
                async with self._http.get(url, params={"maxev": str(MAX_EVENTS)}, timeout=timeout) as resp:
                    events = await resp.json(content_type=None)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                logger.warning("%s: session %s lost: %r", self.name, self.id, exc)
                await self._lose()
                return
            for event in events if isinstance(events, list) else [events]:
                if event.get("janus") == "error" and event.get("error", {}).get("code") == 458:
                    logger.warning("%s: session %s expired on the node", self.name, self.id)
                    await self._lose()
                    return
                self._dispatch(event)

    async def _keep_alive(self) -> None:
        while not self.lost:
            await asyncio.sleep(KEEPALIVE_INTERVAL)
            try:
                await self._post(f"{self.url}/{self.id}", {"janus": "keepalive"})
            except JanusRequestError as exc:
                logger.warning("%s: session %s refused a keepalive: %s", self.name, self.id, exc)
            except JanusUnavailable:
                pass  # the long-poll notices a dead node and reports it

    async def _lose(self) -> None:
        await self._stop(lost=True)
        if self.on_lost is not None:
            await self.on_lost()

    def _dispatch(self, event: dict[str, Any]) -> None:
        future = self._pending.get(str(event.get("transaction", "")))
        if future is not None and event.get("janus") in ("event", "success", "error") and not future.done():
            future.set_result(event)
            return
        listener = self._listeners.get(int(event.get("sender", 0) or 0))
        if listener is not None:
            try:
                listener(event)
            except Exception:
                logger.exception("%s: event listener failed on %s", self.name, event.get("janus"))

    def forget(self, handle_id: int) -> None:
        self._listeners.pop(handle_id, None)


class Handle:
    """A plugin handle: requests to the VideoRoom plugin on behalf of one publisher, viewer or controller."""

    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id

    async def request(self, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> dict[str, Any]:
        """The plugin's data of the reply (`videoroom: "success"`, `"joined"`, `"attached"`, ...)."""
        reply = await self.session._request(self.id, body, jsep)
        data: dict[str, Any] = reply.get("plugindata", {}).get("data", {})
        return data

    async def negotiate(self, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        """A request whose reply carries SDP: (plugin data, jsep or None)."""
        reply = await self.session._request(self.id, body, jsep)
        return reply.get("plugindata", {}).get("data", {}), reply.get("jsep")

    async def detach(self) -> None:
        self.session.forget(self.id)
        with contextlib.suppress(JanusUnavailable, JanusRequestError):
            await self.session._post(f"{self.session.url}/{self.session.id}/{self.id}", {"janus": "detach"})
