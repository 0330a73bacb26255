"""The in-process domain event bus: who reacts to what happens, in an order read in `live.app`.

Publishers call `publish` (or `publish_soon` from a request or an event handler that must not wait)
only after their database commit, so a subscriber always finds what the event names. Subscribers run
one after another in the order they subscribed; one that fails is logged and counted and never stops
the next. A process only hears its own events: work that must happen once across processes (scoring,
mail) claims it in the database, as it always did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from live.domain_events import DomainEvent

log = logging.getLogger(__name__)

E = TypeVar("E", bound=DomainEvent)
Subscriber = Callable[[web.Application, Any], Awaitable[None]]


class Bus:
    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._subscribers: dict[type[Any], list[Subscriber]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    def subscribe(self, kind: type[E], subscriber: Callable[[web.Application, E], Awaitable[None]]) -> None:
        self._subscribers.setdefault(kind, []).append(subscriber)

    def unsubscribe(self, kind: type[E], subscriber: Callable[[web.Application, E], Awaitable[None]]) -> None:
        self._subscribers.get(kind, []).remove(subscriber)

    def subscribers(self, kind: type[Any]) -> list[Subscriber]:
        return list(self._subscribers.get(kind, []))

    async def publish(self, event: DomainEvent) -> None:
        for subscriber in self.subscribers(type(event)):
            try:
                await subscriber(self._app, event)
            except Exception:
                self.failures += 1
                log.exception("%s: subscriber %s failed", event, getattr(subscriber, "__qualname__", subscriber))

    def publish_soon(self, event: DomainEvent) -> None:
        """Publishes in a task of its own; `close` awaits whatever is still running."""
        task = asyncio.ensure_future(self.publish(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


BUS: web.AppKey[Bus] = web.AppKey("bus", Bus)
