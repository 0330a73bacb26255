"""Accounts and contacts over HTTP, against SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer, StaffMember


async def create_account(server: LiveServer, token: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Acme", "plan": "growth", "mrr": 2000, **fields}
    response = await server.request("POST", "/api/v1/accounts", token, json=body)
    assert response.status == 201, response.body
    return response.body  # type: ignore[no-any-return]


async def test_an_account_gets_its_ltv_and_tier_from_mrr(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    csm = staff["csm"].token
    tech = await create_account(server, csm, name="Tiny", mrr=100)
    low = await create_account(server, csm, name="Mid", mrr=2000)
    high = await create_account(server, csm, name="Big", mrr=20000, csm_email="CSM@Example.com")
    # LTV = MRR x 0.8 / 0.02 = 40 x MRR; bands: high >= 600,000, low >= 60,000.
    assert (tech["ltv"], tech["tier"]) == (4000, "tech")
    assert (low["ltv"], low["tier"]) == (80000, "low")
    assert (high["ltv"], high["tier"]) == (800000, "high")
    assert high["csm_email"] == "csm@example.com"
    assert high["phase"] == "onboarding" and high["tier_source"] == "engine"

    detail = await server.request("GET", f"/api/v1/accounts/{high['id']}", csm)
    assert detail.status == 200
    for key in ("id", "name", "plan", "mrr", "ltv", "tier", "tier_source", "phase", "engagement", "health",
                "csm_email", "history"):
        assert key in detail.body
    tier_rows = [h for h in detail.body["history"] if h["field"] == "tier"]
    assert tier_rows[0]["rule"] == "ltv_band" and "800,000" in tier_rows[0]["reason"]


async def test_accounts_filter_by_tier_and_phase(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    token = staff["csm"].token
    await create_account(server, token, name="A", mrr=100)
    await create_account(server, token, name="B", mrr=20000)
    highs = await server.request("GET", "/api/v1/accounts?tier=high", token)
    assert [a["name"] for a in highs.body] == ["B"]
    onboarding = await server.request("GET", "/api/v1/accounts?phase=onboarding", token)
    assert sorted(a["name"] for a in onboarding.body) == ["A", "B"]
    bad = await server.request("GET", "/api/v1/accounts?tier=platinum", token)
    assert bad.status == 400 and "platinum" in bad.body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"plan": "x", "mrr": 1}, "'name' Field required"),
        ({"name": "", "plan": "x", "mrr": 1}, "'name'"),
        ({"name": "A", "plan": "x", "mrr": -5}, "'mrr'"),
        ({"name": "A", "plan": "x", "mrr": "lots"}, "'mrr'"),
        ({"name": "A", "plan": "x", "mrr": 1, "tier": "high"}, "'tier' Extra inputs"),
        ({"name": "A", "plan": "x", "mrr": 1, "signed_at": "2026-01-01T10:00:00"}, "time zone"),
        ({"name": "A", "plan": "x", "mrr": 1, "csm_email": "nobody"}, "not an email"),
    ],
)
async def test_bad_account_bodies_get_a_400_naming_the_field(
    server: LiveServer, staff: dict[str, StaffMember], body: dict[str, Any], fragment: str
) -> None:
    response = await server.request("POST", "/api/v1/accounts", staff["csm"].token, json=body)
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid"
    assert fragment in response.body["error"]["message"]


async def test_non_json_and_non_object_bodies_are_refused_cleanly(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    token = staff["csm"].token
    garbage = await server.request("POST", "/api/v1/accounts", token, data=b"{not json")
    assert garbage.status == 400 and "not valid JSON" in garbage.body["error"]["message"]
    array = await server.request("POST", "/api/v1/accounts", token, json=[1, 2])
    assert array.status == 400 and "JSON object" in array.body["error"]["message"]
    empty = await server.request("POST", "/api/v1/accounts", token)
    assert empty.status == 400


async def test_unknown_account_is_a_404(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    response = await server.request("GET", "/api/v1/accounts/nope", staff["host"].token)
    assert response.status == 404
    assert response.body == {"error": {"code": "not_found", "message": "Account 'nope' does not exist."}}


async def test_hosts_read_accounts_but_cannot_write_them(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    account = await create_account(server, staff["csm"].token)
    host = staff["host"].token
    assert (await server.request("GET", f"/api/v1/accounts/{account['id']}", host)).status == 200
    for method, path, body in [
        ("POST", "/api/v1/accounts", {"name": "X", "plan": "p", "mrr": 1}),
        ("PATCH", f"/api/v1/accounts/{account['id']}", {"tier": "high", "reason": "big logo"}),
        ("POST", f"/api/v1/accounts/{account['id']}/contacts", {"name": "Ann", "email": "ann@acme.test"}),
    ]:
        response = await server.request(method, path, host, json=body)
        assert response.status == 403, (method, path)
        assert response.body["error"]["code"] == "forbidden"


async def test_requests_without_valid_credentials_get_401(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    assert (await server.request("GET", "/api/v1/accounts")).status == 401
    forged = await server.request("GET", "/api/v1/accounts", "live_forged")
    assert forged.status == 401 and forged.body["error"]["code"] == "unauthenticated"
    basic = await server.request("GET", "/api/v1/accounts", headers={"Authorization": "Basic abc"})
    assert basic.status == 401 and "Bearer" in basic.body["error"]["message"]


async def test_a_manual_override_pins_the_tier_until_handed_back(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm = staff["csm"].token
    account = await create_account(server, csm, mrr=100)
    path = f"/api/v1/accounts/{account['id']}"
    no_reason = await server.request("PATCH", path, csm, json={"tier": "high"})
    assert no_reason.status == 400 and "reason" in no_reason.body["error"]["message"]
    past = await server.request(
        "PATCH", path, csm, json={"tier": "high", "reason": "x", "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert past.status == 400 and "in the past" in past.body["error"]["message"]

    pinned = await server.request(
        "PATCH", path, csm, json={"tier": "high", "reason": "Strategic logo", "expires_at": "2099-01-01T00:00:00Z"}
    )
    assert pinned.status == 200
    assert (pinned.body["tier"], pinned.body["tier_source"]) == ("high", "manual")
    assert pinned.body["tier_override"]["reason"] == "Strategic logo"
    latest = pinned.body["history"][0]
    assert (latest["rule"], latest["source"], latest["old"], latest["new"]) == ("manual_override", "manual", "tech", "high")
    assert latest["actor"] == "csm@example.com"

    # A change of MRR does not move a pinned tier.
    bumped = await server.request("PATCH", path, csm, json={"mrr": 50})
    assert bumped.body["tier"] == "high" and bumped.body["ltv"] == 2000

    released = await server.request("PATCH", path, csm, json={"tier": None})
    assert released.status == 200 and released.body["tier_source"] == "engine"
    assert released.body["history"][0]["rule"] == "override_released"


async def test_a_new_mrr_re_tiers_an_engine_account(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    csm = staff["csm"].token
    account = await create_account(server, csm, mrr=100)
    response = await server.request("PATCH", f"/api/v1/accounts/{account['id']}", csm, json={"mrr": 20000})
    assert response.status == 200 and response.body["tier"] == "high"
    assert response.body["history"][0]["rule"] == "ltv_band"


async def test_contacts_are_added_once_per_email(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    csm = staff["csm"].token
    account = await create_account(server, csm)
    path = f"/api/v1/accounts/{account['id']}/contacts"
    created = await server.request("POST", path, csm, json={"name": "Ann Lee", "email": "Ann@Acme.test"})
    assert created.status == 201
    assert created.body["email"] == "ann@acme.test" and created.body["account_id"] == account["id"]
    again = await server.request("POST", path, csm, json={"name": "Ann", "email": "ann@acme.test"})
    assert again.status == 409 and again.body["error"]["code"] == "conflict"
    bad = await server.request("POST", path, csm, json={"name": "Ann", "email": "nope"})
    assert bad.status == 400
    missing = await server.request("POST", "/api/v1/accounts/none/contacts", csm, json={"name": "A", "email": "a@b.c"})
    assert missing.status == 404
    listed = await server.request("GET", path, staff["host"].token)
    assert [c["name"] for c in listed.body] == ["Ann Lee"]


async def test_an_account_keeps_its_email_domain_normalized_and_refuses_a_bad_one(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm = staff["csm"].token
    account = await create_account(server, csm, name="Acme", domain="  @ACME.com. ")
    assert account["domain"] == "acme.com"

    bad = await server.request("POST", "/api/v1/accounts", csm, json={"name": "X", "plan": "p", "mrr": 1, "domain": "not a domain"})
    assert bad.status == 400 and "domain" in bad.body["error"]["message"]

    changed = await server.request("PATCH", f"/api/v1/accounts/{account['id']}", csm, json={"domain": "acme.io"})
    assert changed.status == 200 and changed.body["domain"] == "acme.io"
    cleared = await server.request("PATCH", f"/api/v1/accounts/{account['id']}", csm, json={"domain": None})
    assert cleared.status == 200 and cleared.body["domain"] is None
