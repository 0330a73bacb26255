"""The DESIGN scenario end to end, through the real server, real Socket.IO clients and a real webhook receiver:
two new tech-touch accounts are invited to a welcome seminar; one comes, chats and votes, the other does not."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, StaffMember, settings_for, start_server
from tests.engagement.support import Receiver, api, eventually, join, new_account, ok, schedule, subscribe, token_of


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = await Receiver().start()
    yield hook
    await hook.stop()


async def test_the_welcome_seminar_scenario_ends_with_no_manual_step(
    server: LiveServer, staff: dict[str, StaffMember], receiver: Receiver
) -> None:
    admin, csm, host = staff["admin"], staff["csm"], staff["host"]
    hook = await subscribe(server, admin.token, receiver.url)
    comes = await new_account(server, csm.token, "Comes", mrr=400, csm_email=csm.email)
    stays = await new_account(server, csm.token, "Stays Away", mrr=400, csm_email=csm.email)
    assert comes["tier"] == stays["tier"] == "tech" and comes["phase"] == stays["phase"] == "onboarding"
    comer, absentee = comes["contacts"][0], stays["contacts"][0]

    # Scheduling the seminar invites every onboarding account's contacts: nobody invites anyone by hand.
    seminar = await schedule(server, csm.token, host.email, kind="welcome_seminar", title="Welcome to Live")
    assert {i["contact_id"] for i in seminar["invitations"]} == {comer["id"], absentee["id"]}
    assert {i["reason"] for i in seminar["invitations"]} == {"onboarding"}

    sid = seminar["id"]
    host_client = await join(server, host.token, sid)
    guest = await join(server, token_of(seminar, comer["id"]), sid)  # waiting before the start: a full share
    await ok(host_client, "session.start")
    await ok(guest, "focus", {"visible": True})
    await ok(guest, "chat.send", {"text": "Hi! Glad to be here."})
    poll = await ok(host_client, "poll.open", {"question": "How far along are you?", "options": ["Set up", "Not yet"]})
    await ok(guest, "poll.vote", {"poll_id": poll["id"], "choices": [0]})
    await ok(host_client, "poll.close", {"poll_id": poll["id"]})
    await ok(guest, "chat.send", {"text": "Thanks, very clear."})
    await guest.close()
    await ok(host_client, "session.end")
    await host_client.close()

    # The loop runs by itself: scores, phases, risk, a check-in, webhooks.
    async def settled() -> Any:
        account = await api(server, "GET", f"/api/v1/accounts/{stays['id']}", csm.token)
        return account if account["health"] == "at_risk" else None

    stays_now = await eventually(settled)
    comes_now = await api(server, "GET", f"/api/v1/accounts/{comes['id']}", csm.token)
    assert comes_now["phase"] == "establishment" and comes_now["tier"] == "tech"
    why = next(h for h in comes_now["history"] if h["field"] == "phase" and h["new"] == "establishment")
    assert why["rule"] == "welcome_seminar_attended" and why["evidence"] == [sid]
    assert "attended the welcome seminar" in why["reason"]
    [seminar_row] = [s for s in comes_now["sessions"] if s["id"] == sid]
    assert seminar_row["attended"] and seminar_row["best_score"] > 60
    assert comes_now["engagement_series"][-1]["engagement"] == pytest.approx(comes_now["engagement"], abs=0.1)

    assert stays_now["phase"] == "onboarding" and stays_now["at_risk"] and stays_now["tier"] == "low"
    risk = next(h for h in stays_now["history"] if h["field"] == "health")
    assert risk["rule"] == "at_risk_low_engagement" and risk["evidence"] == [sid]
    one_on_ones = await api(server, "GET", "/api/v1/sessions?kind=one_on_one", csm.token)
    [check_in] = [s for s in one_on_ones if s["account_id"] == stays["id"]]
    assert check_in["proposed"] and check_in["host_email"] == csm.email

    # Why, in full: every input and rule.
    explained = await api(server, "GET", f"/api/v1/accounts/{stays['id']}/explain", csm.token)
    assert explained["at_risk"]["value"] and explained["at_risk"]["early_phase"]
    assert explained["tier"]["ltv"]["value"] == 16_000 and explained["tier"]["band"] == "tech"
    assert explained["tier"]["engine_tier"] == "low" and explained["config"]["version"] == risk["config_version"]
    [line] = explained["engagement"]["sessions"]
    assert line["title"] == "Welcome to Live" and line["kind_weight"] == 1.2 and line["score"] == 0
    comes_explained = await api(server, "GET", f"/api/v1/accounts/{comes['id']}/explain", csm.token)
    total = math.fsum(line["contribution"] for line in comes_explained["engagement"]["sessions"])
    assert total == pytest.approx(comes_explained["engagement"]["value"], abs=0.01)

    # Signed webhooks, as a subscriber receives them.
    secret = hook["secret"]

    async def all_delivered() -> Any:
        kinds = sorted(m["type"] for m in receiver.verified(secret))
        want = ["account.at_risk", "account.phase_changed", "account.tier_changed", "session.ended"]
        return kinds if kinds == want else None

    await eventually(all_delivered)
    assert len(receiver.verified(secret)) == len(receiver.requests)  # every signature checks out
    assert receiver.verified("whsec_" + "A" * 32) == []  # and a wrong key proves nothing
    [phase] = receiver.of_type(secret, "account.phase_changed")
    assert phase["data"]["account"]["id"] == comes["id"] and phase["data"]["new"] == "establishment"
    assert phase["data"]["rule"] == "welcome_seminar_attended" and phase["data"]["evidence"] == [sid]
    [at_risk] = receiver.of_type(secret, "account.at_risk")
    assert at_risk["data"]["account"]["id"] == stays["id"] and at_risk["data"]["numbers"]["engagement"] == 0
    [ended] = receiver.of_type(secret, "session.ended")
    report = ended["data"]
    assert report["session"]["id"] == sid and report["summary"] == {"invited": 2, "attended": 1, "no_shows": 1}
    rows = {r["contact_id"]: r for r in report["attendance"]}
    assert rows[comer["id"]]["chat_messages"] == 2 and rows[comer["id"]]["poll_answers"] == 1
    assert rows[absentee["id"]]["no_show"] and rows[absentee["id"]]["score"] == 0
    assert rows[None]["role"] == "host"
    assert report["polls"][0]["counts"] == [1, 0]


async def test_a_webhook_answered_with_500_is_delivered_on_retry(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    receiver = await Receiver(statuses=[500]).start()
    try:
        admin, csm = staff["admin"], staff["csm"]
        hook = await subscribe(server, admin.token, receiver.url, ["account.tier_changed"])
        account = await new_account(server, csm.token, "Flaky")
        await api(server, "PATCH", f"/api/v1/accounts/{account['id']}", csm.token, {"tier": "high", "reason": "Pilot"})

        async def delivered() -> Any:
            rows = await api(server, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", admin.token)
            return rows if rows and rows[0]["status"] == "delivered" else None

        [row] = await eventually(delivered)
        assert row["attempts"] == 2 and row["last_status"] == 204
        assert len(receiver.requests) == 2
        first, second = (receiver.requests[0][0]["webhook-id"], receiver.requests[1][0]["webhook-id"])
        assert first == second == row["id"]  # one message, retried under its id
        assert [m["data"]["new"] for m in receiver.verified(hook["secret"])] == ["high", "high"]
    finally:
        await receiver.stop()


async def test_deliveries_pending_when_the_app_stops_are_sent_by_the_next_one(
    sqlite_url: str, tmp_path: Path
) -> None:
    from tests.conftest import add_staff

    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    receiver = Receiver()  # not listening yet: the first app cannot deliver
    first = await start_server(settings_for(sqlite_url, tmp_path, webhook_allow_private=True))
    try:
        hook = await subscribe(first, admin.token, receiver.url, ["account.tier_changed"])
        account = await new_account(first, csm.token, "Patient")
        await api(first, "PATCH", f"/api/v1/accounts/{account['id']}", csm.token, {"tier": "low", "reason": "Pilot"})

        async def tried() -> Any:
            rows = await api(first, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", admin.token)
            return rows if rows and rows[0]["attempts"] >= 1 else None

        [pending] = await eventually(tried)
        assert pending["status"] == "pending" and pending["last_error"]
    finally:
        await first.stop()

    await receiver.start()
    second = await start_server(settings_for(sqlite_url, tmp_path, webhook_allow_private=True))
    try:
        async def delivered() -> Any:
            rows = await api(second, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", admin.token)
            return rows if rows[0]["status"] == "delivered" else None

        [row] = await eventually(delivered, within=20)
        assert row["id"] == pending["id"]
        [message] = receiver.verified(hook["secret"])
        assert message["type"] == "account.tier_changed" and message["data"]["account"]["id"] == account["id"]
    finally:
        await second.stop()
        await receiver.stop()
