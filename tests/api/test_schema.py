"""The OpenAPI document describes every endpoint, and schemathesis finds no server error and no answer that
breaks it, as an admin and as nobody, against the real server in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import free_port

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]


def _live(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "live", *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`live serve` on a free port with its own SQLite database, and an admin's API token."""
    var = tmp_path_factory.mktemp("schema")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LIVE_DATABASE_URL": f"sqlite+aiosqlite:///{var / 'live.db'}", "LIVE_VAR_DIR": str(var / "var"),
           "LIVE_PUBLIC_URL": url}
    env.pop("LIVE_REDIS_URL", None)
    _live(env, "db", "upgrade")
    _live(env, "user", "create", "--email", "admin@example.com", "--role", "admin", "--password", "admin-password")
    _live(env, "user", "create", "--email", "host@example.com", "--role", "host", "--password", "host-password")
    token = _live(env, "token", "create", "--email", "admin@example.com")
    log = (var / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "live", "serve", "--port", str(port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        errors = [line for line in Path(log.name).read_text().splitlines() if '"level": "error"' in line]
        assert errors == [], "the server logged errors:\n" + "\n".join(errors[:5])


# Bounded: a couple of dozen examples per operation keep the whole run near a minute on the shared machine.
# Derandomized: the same examples on every run, so CI is repeatable (a new endpoint still gets its own).
BOUNDED = settings(
    max_examples=20, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def fuzz(url: str, headers: dict[str, str], examples: int) -> list[str]:
    """Every operation of the document, `examples` generated requests each; what failed, one line per operation."""
    schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json")
    failures = []
    called: set[str] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(BOUNDED, max_examples=examples)
        def run(case: Any) -> None:
            called.add(case.operation.label)
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # one operation's failure must not hide another's
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert len(operations) >= 20 and called == {op.label for op in operations}, "every operation was exercised"
    return failures


def test_every_operation_as_an_admin_gives_no_server_error_and_matches_the_document(live_app: tuple[str, str]) -> None:
    url, token = live_app
    assert fuzz(url, {"Authorization": f"Bearer {token}"}, 20) == []


def test_every_operation_as_nobody_gives_no_server_error_and_matches_the_document(live_app: tuple[str, str]) -> None:
    assert fuzz(live_app[0], {}, 5) == []


def test_the_document_lists_every_api_route_the_app_serves(live_app: tuple[str, str]) -> None:
    import json

    with urllib.request.urlopen(live_app[0] + "/api/v1/openapi.json") as response:
        document = json.load(response)
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    for path, method in [
        ("/api/v1/accounts", "post"), ("/api/v1/accounts/{id}", "patch"), ("/api/v1/sessions", "post"),
        ("/api/v1/sessions/{id}/invitations", "post"), ("/api/v1/sessions/{id}/attendance", "get"),
        ("/api/v1/sessions/{id}/report.csv", "get"), ("/api/v1/sessions/{id}/polls", "get"),
        ("/api/v1/webhooks", "post"), ("/api/v1/tokens", "get"), ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"), ("/api/v1/me/password", "post"), ("/healthz", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is missing"
    session_in = document["components"]["schemas"]["SessionIn"]
    assert set(session_in["required"]) >= {"kind", "title", "starts_at", "duration_minutes", "host_email"}
    assert session_in["additionalProperties"] is False


def test_every_api_route_of_the_app_is_declared_in_the_document(tmp_path: Path) -> None:
    from live.api.spec import API_OPERATIONS
    from live.app import init_app
    from live.settings import Settings

    app = init_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", secret_key="k" * 40,
                            var_dir=tmp_path))
    declared = {(op.method, op.path) for op in app[API_OPERATIONS]}
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/") and route.method != "HEAD"
    }
    assert served - declared == set()
