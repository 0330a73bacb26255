"""Prometheus metrics: one registry per app, request counts and latencies, plus room gauges."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "live_http_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "live_http_request_duration_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        self.socket_events = Counter(
            "live_socket_events", "Socket.IO client events handled", ["event", "ok"], registry=self.registry
        )
        self.participants = Gauge("live_connected_sockets", "Connected Socket.IO clients", registry=self.registry)
        self.events_written = Counter("live_events_written", "Event log rows written", registry=self.registry)
        self.writer_dropped = Counter(
            "live_writer_dropped_rows",
            "Rows a batching writer dropped because the database refused them (not a connection fault)",
            ["writer"],
            registry=self.registry,
        )
        self.mails = Counter(
            "live_mails", "Mail outbox outcomes: sent, suppressed, attempt_failed", ["status"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def middleware(metrics: Metrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def measure(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = route_name(request)
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)

    return measure


async def metrics_view(request: web.Request) -> web.Response:
    from live.typedefs import METRICS

    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
