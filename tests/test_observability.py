"""Liveness and Prometheus metrics."""

from __future__ import annotations

from tests.conftest import LiveServer, StaffMember


async def test_healthz_answers_ok_with_the_database_up(server: LiveServer) -> None:
    response = await server.request("GET", "/healthz")
    assert response.status == 200
    assert response.body == {"status": "ok", "database": "ok", "redis": "unused", "pending": {"event-writer": 0, "poll-writer": 0}}
    ready = await server.request("GET", "/readyz")
    assert ready.status == 200 and ready.body["status"] == "ok"


async def test_metrics_count_requests_by_route_and_status(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    await sqlite_server.request("GET", "/api/v1/accounts", sqlite_staff["host"].token)
    await sqlite_server.request("GET", "/api/v1/accounts/nope", sqlite_staff["host"].token)
    metrics = await sqlite_server.request("GET", "/metrics")
    assert metrics.status == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    text = metrics.text
    assert 'live_http_requests_total{method="GET",route="/api/v1/accounts",status="200"} 1.0' in text
    assert 'live_http_requests_total{method="GET",route="/api/v1/accounts/{id}",status="404"} 1.0' in text
    assert "live_http_request_duration_seconds_bucket" in text


async def test_unknown_api_paths_are_json_404s(sqlite_server: LiveServer) -> None:
    response = await sqlite_server.request("GET", "/api/v1/nothing-here")
    assert response.status == 404 and response.body["error"]["code"] == "not_found"
    page = await sqlite_server.request("GET", "/nothing-here")
    assert page.status == 404 and "<html" in page.text
