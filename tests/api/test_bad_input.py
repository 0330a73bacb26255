"""Bad input is a clear 400, never a 500: deep or broken JSON, absurd dates, emails with line breaks, numbers
sent as strings; and logs never carry a join or API token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from live.api.errors import redact_path
from live.api.parse import json_depth_ok
from tests.conftest import LiveServer, StaffMember


def nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [0, 1, 5, 31, 32, 33, 100])
def test_the_depth_check_agrees_with_the_real_nesting(depth: int) -> None:
    assert json_depth_ok(json.dumps(nested(depth)).encode(), 32) == (depth <= 32)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert json_depth_ok(json.dumps({"a": "[" * 1000 + '\\"{' * 500}).encode())


async def test_deep_or_endless_json_is_refused_with_a_400(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    token = sqlite_staff["csm"].token
    for raw in (b"[" * 50_000, b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", json.dumps(nested(200)).encode()):
        refused = await sqlite_server.request(
            "POST", "/api/v1/accounts", token, data=raw, headers={"Content-Type": "application/json"}
        )
        assert refused.status == 400 and "nested deeper than 32" in refused.body["error"]["message"]
    fine = await sqlite_server.request(
        "POST", "/api/v1/accounts", token, json={"name": "[" * 150, "plan": "{" * 50, "mrr": 1}
    )
    assert fine.status == 201 and fine.body["name"] == "[" * 150


def session(host: StaffMember, **changes: Any) -> dict[str, Any]:
    return {"kind": "webinar", "title": "T", "starts_at": "2030-01-01T10:00:00Z", "duration_minutes": 30,
            "host_email": host.email, **changes}


@pytest.mark.parametrize(
    "starts_at", ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:00Z", "1999-12-31T23:00:00Z",
                  "2101-01-01T00:00:00Z"],
)
async def test_session_times_outside_2000_to_2100_are_refused_naming_the_field(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], starts_at: str
) -> None:
    host = sqlite_staff["host"]
    refused = await sqlite_server.request("POST", "/api/v1/sessions", host.token, json=session(host, starts_at=starts_at))
    assert refused.status == 400
    assert "'starts_at'" in refused.body["error"]["message"] and "2000" in refused.body["error"]["message"]


async def test_other_dates_are_bounded_too(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    csm = sqlite_staff["csm"]
    account = await sqlite_server.request(
        "POST", "/api/v1/accounts", csm.token, json={"name": "A", "plan": "p", "mrr": 1, "signed_at": "0001-01-01T00:00:00Z"}
    )
    assert account.status == 400 and "'signed_at'" in account.body["error"]["message"]
    created = await sqlite_server.request("POST", "/api/v1/accounts", csm.token, json={"name": "A", "plan": "p", "mrr": 1})
    pinned = await sqlite_server.request(
        "PATCH", f"/api/v1/accounts/{created.body['id']}", csm.token,
        json={"tier": "high", "reason": "r", "expires_at": "9999-12-31T23:59:59Z"},
    )
    assert pinned.status == 400 and "'expires_at'" in pinned.body["error"]["message"]


@pytest.mark.parametrize(
    "email", ["a@example.com\r\nX-Evil: 1", "a@exa\nmple.com", "a\r@example.com", "a b@example.com", "a@@example.com",
              "a@example..com", "@example.com", "ab@", "a@localhost"],
)
async def test_contact_emails_must_be_addresses(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], email: str
) -> None:
    csm = sqlite_staff["csm"]
    account = await sqlite_server.request("POST", "/api/v1/accounts", csm.token, json={"name": "A", "plan": "p", "mrr": 1})
    refused = await sqlite_server.request(
        "POST", f"/api/v1/accounts/{account.body['id']}/contacts", csm.token, json={"name": "N", "email": email}
    )
    assert refused.status == 400 and "is not an email address" in refused.body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/accounts", {"name": "A", "plan": "p", "mrr": "5"}),
        ("/api/v1/accounts", {"name": "A", "plan": "p", "mrr": True}),
        ("/api/v1/accounts", {"name": 5, "plan": "p", "mrr": 5}),
        ("/api/v1/sessions", "duration"),
    ],
)
async def test_numbers_sent_as_strings_and_other_wrong_json_types_are_refused(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], path: str, body: Any
) -> None:
    admin = sqlite_staff["admin"]
    if body == "duration":
        body = session(sqlite_staff["host"], duration_minutes="30")
    refused = await sqlite_server.request("POST", path, admin.token, json=body)
    assert refused.status == 400 and "got" in refused.body["error"]["message"]


def test_logged_paths_never_carry_a_token() -> None:
    token = "eyJzIjoiNWY2ZTMxMDY1ODc3NDc5YWJlMTFiZWIwZTExOTlkMGMiLCJjIjoiYWJjIn0.Zx8hYk3J1m0W2t8Q9rQ3pC8vL1sE5aN6b"
    assert redact_path(f"/join/{token}.ics") == "/join/eyJzIj…"
    assert redact_path("/api/v1/tokens/live_abc") == "/api/v1/tokens/live_a…"
    assert redact_path("/api/v1/sessions/5f6e31065877479abe11beb0e1199d0c") == "/api/v1/sessions/5f6e31065877479abe11beb0e1199d0c"
