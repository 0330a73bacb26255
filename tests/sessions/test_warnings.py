"""Schedule warnings: shown and returned with the session, never blocking it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from live.sessions.model import SessionKind, SessionStatus, schedule_warnings
from tests.conftest import LiveServer, StaffMember

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def codes(kind: SessionKind, status: SessionStatus, starts_at: datetime, accounts: list[str]) -> list[str]:
    return [w.code for w in schedule_warnings(kind, status, starts_at, NOW, accounts)]


def test_a_one_on_one_warns_when_empty_or_across_accounts_and_any_session_when_it_starts_in_the_past() -> None:
    later = NOW + timedelta(days=1)
    assert codes(SessionKind.ONE_ON_ONE, SessionStatus.SCHEDULED, later, []) == ["empty_one_on_one"]
    assert codes(SessionKind.ONE_ON_ONE, SessionStatus.SCHEDULED, later, ["Acme", "Acme"]) == []
    assert codes(SessionKind.ONE_ON_ONE, SessionStatus.SCHEDULED, later, ["Acme", "Globex"]) == ["several_accounts"]
    assert codes(SessionKind.WEBINAR, SessionStatus.SCHEDULED, later, []) == []
    assert codes(SessionKind.WEBINAR, SessionStatus.SCHEDULED, NOW - timedelta(hours=1), []) == ["start_in_past"]
    # Typed "now" is up to a minute behind; a session that is running or over is not "in the past".
    assert codes(SessionKind.WEBINAR, SessionStatus.SCHEDULED, NOW - timedelta(seconds=30), []) == []
    assert codes(SessionKind.ONE_ON_ONE, SessionStatus.ENDED, NOW - timedelta(hours=1), []) == []
    assert codes(SessionKind.WEBINAR, SessionStatus.LIVE, NOW - timedelta(hours=1), []) == []


async def test_the_api_returns_warnings_with_the_created_and_the_read_session(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    csm = sqlite_staff["csm"]
    ids = []
    for name in ("Acme", "Globex"):
        account = (await sqlite_server.request("POST", "/api/v1/accounts", csm.token, json={"name": name, "plan": "p", "mrr": 1})).body
        contact = (
            await sqlite_server.request(
                "POST", f"/api/v1/accounts/{account['id']}/contacts", csm.token,
                json={"name": f"{name} person", "email": f"p@{name.lower()}.test"},
            )
        ).body
        ids.append(contact["id"])
    body = {
        "kind": "one_on_one", "title": "Check-in", "duration_minutes": 30, "host_email": csm.email,
        "starts_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }
    created = await sqlite_server.request("POST", "/api/v1/sessions", csm.token, json=body)
    assert created.status == 201
    assert [w["code"] for w in created.body["warnings"]] == ["start_in_past", "empty_one_on_one"]
    await sqlite_server.request("POST", f"/api/v1/sessions/{created.body['id']}/invitations", csm.token, json={"contact_ids": ids})
    read = await sqlite_server.request("GET", f"/api/v1/sessions/{created.body['id']}", csm.token)
    assert [w["code"] for w in read.body["warnings"]] == ["start_in_past", "several_accounts"]
    assert "(Acme, Globex)" in read.body["warnings"][1]["message"]
