"""The what-if: previewing a configuration over the whole log, and applying it as a new version (admin)."""

from __future__ import annotations

from typing import Any

from live.engagement.config import EngagementConfig
from tests.conftest import LiveServer, StaffMember
from tests.engagement.conftest import SHORT_SESSIONS_COUNT
from tests.engagement.support import api, new_account, schedule
from tests.engagement.test_recompute import run_session


async def preview(server: LiveServer, token: str, config: dict[str, Any], status: int = 200) -> Any:
    return await api(server, "POST", "/api/v1/engagement/preview", token, {"config": config}, status=status)


async def test_a_preview_lists_the_accounts_a_lower_band_would_raise_without_applying_it(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm, host, admin = staff["csm"], staff["host"], staff["admin"]
    small = await new_account(server, csm.token, "Smallco", mrr=500)  # LTV 20,000: tech
    big = await new_account(server, csm.token, "Bigco", mrr=5_000)  # LTV 200,000: low
    session = await schedule(server, csm.token, host.email, account_ids=[small["id"], big["id"]])
    await run_session(server, host, session, [small["contacts"][0]["id"], big["contacts"][0]["id"]])

    # The same configuration replays to what the accounts show now: nothing would change.
    same = await preview(server, csm.token, {})
    assert same["changes"] == [] and same["accounts"] == 0

    lower = await preview(server, csm.token, {"low_band": 10_000})
    assert lower["accounts"] == 1
    assert lower["changes"] == [{"account_id": small["id"], "field": "tier", "from": "tech", "to": "low"}]
    unchanged = await api(server, "GET", f"/api/v1/accounts/{small['id']}", csm.token)
    assert unchanged["tier"] == "tech"

    before = await api(server, "GET", "/api/v1/engagement/config", csm.token)
    applied = await api(
        server, "PUT", "/api/v1/engagement/config", admin.token,
        {"config": {"low_band": 10_000}, "reason": "smaller accounts get low touch"},
    )
    assert applied["config"]["low_band"] == 10_000 and applied["version"] != before["version"]
    now = await api(server, "GET", "/api/v1/engagement/config", csm.token)
    assert now == applied
    # Against the new version in force, the same what-if changes nothing any more... once recomputed;
    # until then the preview still shows what applying it would do to the stored values.
    again = await preview(server, csm.token, {})
    assert again["version"] == applied["version"]
    assert again["changes"] == lower["changes"]


async def test_bad_configurations_are_refused_with_400_naming_the_field(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    token = sqlite_staff["csm"].token
    unknown = await preview(sqlite_server, token, {"weight_charisma": 3}, status=400)
    assert "weight_charisma" in unknown["error"]["message"]
    wrong_type = await preview(sqlite_server, token, {"half_life_days": "a month"}, status=400)
    assert "half_life_days" in wrong_type["error"]["message"]
    out_of_range = await preview(sqlite_server, token, {"attended_share": 1.5}, status=400)
    assert "attended_share" in out_of_range["error"]["message"] and "between 0 and 1" in out_of_range["error"]["message"]
    negative = await preview(sqlite_server, token, {"kind_weights": {"webinar": -1}}, status=400)
    assert "kind_weights.webinar" in negative["error"]["message"]
    admin = sqlite_staff["admin"].token
    refused = await api(
        sqlite_server, "PUT", "/api/v1/engagement/config", admin, {"config": {"monthly_churn": 0}, "reason": "x"},
        status=400,
    )
    assert "monthly_churn" in refused["error"]["message"]
    no_reason = await api(
        sqlite_server, "PUT", "/api/v1/engagement/config", admin, {"config": {"low_band": 1}}, status=400
    )
    assert "reason" in no_reason["error"]["message"]


async def test_only_an_admin_applies_a_configuration_and_a_host_cannot_preview(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    body = {"config": {"low_band": 1_000}, "reason": "try"}
    csm = await api(sqlite_server, "PUT", "/api/v1/engagement/config", sqlite_staff["csm"].token, body, status=403)
    assert csm["error"]["code"] == "forbidden"
    host = await preview(sqlite_server, sqlite_staff["host"].token, {}, status=403)
    assert host["error"]["code"] == "forbidden"
    current = await api(sqlite_server, "GET", "/api/v1/engagement/config", sqlite_staff["csm"].token)
    assert current["version"] == EngagementConfig().with_overrides(SHORT_SESSIONS_COUNT).version
