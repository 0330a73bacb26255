"""The loop against the database: a session that ends is scored, its accounts evaluated, automations run and
webhooks queued; a manual override handed back is re-evaluated at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from live.db.engine import create_engine, session_factory
from live.db.tables import Invitation, LiveSession, SessionScore, WebhookDelivery
from live.engagement.automations import check_in_start
from live.engagement.service import Loop, close_session
from live.typedefs import ENGAGEMENT
from tests.conftest import LiveServer, StaffMember
from tests.engagement.support import api, eventually, join, new_account, ok, schedule, subscribe, token_of


async def query(server: LiveServer, statement: Any) -> list[Any]:
    engine = create_engine(server.settings.database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(statement)).all())
    finally:
        await engine.dispose()


async def later_seminar(server: LiveServer, host_id: str) -> str:
    """A welcome seminar next week, put straight in the database (no onboarding invitations)."""
    engine = create_engine(server.settings.database_url)
    try:
        async with session_factory(engine)() as db:
            seminar = LiveSession(
                kind="welcome_seminar",
                title="Welcome, next week",
                starts_at=datetime.now(UTC) + timedelta(days=7),
                duration_minutes=45,
                host_id=host_id,
            )
            db.add(seminar)
            await db.commit()
            return seminar.id
    finally:
        await engine.dispose()


async def run_seminar(server: LiveServer, host: StaffMember, session: dict[str, Any], attendee: str) -> None:
    """The host runs the seminar; `attendee` joins, chats, answers the poll and leaves before the end."""
    sid = session["id"]
    host_client = await join(server, host.token, sid)
    guest = await join(server, token_of(session, attendee), sid)  # waiting before the start: a full share
    await ok(host_client, "session.start")
    await ok(guest, "chat.send", {"text": "Hello!"})
    poll = await ok(host_client, "poll.open", {"question": "Ready?", "options": ["Yes", "Not yet"]})
    await ok(guest, "poll.vote", {"poll_id": poll["id"], "choices": [0]})
    await ok(host_client, "poll.close", {"poll_id": poll["id"]})
    await guest.close()
    await ok(host_client, "session.end")
    await host_client.close()


async def test_an_ended_seminar_is_scored_evaluated_automated_and_announced(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm, host, admin = staff["csm"], staff["host"], staff["admin"]
    hook = await subscribe(server, admin.token, "http://127.0.0.1:9/unreachable")
    came = await new_account(server, csm.token, "Came", contacts=1)
    missed = await new_account(server, csm.token, "Missed", contacts=2, csm_email=csm.email)
    seminar = await schedule(server, csm.token, host.email, kind="welcome_seminar", title="Welcome")
    invited = {i["contact_id"] for i in seminar["invitations"]}
    assert invited == {c["id"] for a in (came, missed) for c in a["contacts"]}
    next_id = await later_seminar(server, host.id)

    await run_seminar(server, host, seminar, came["contacts"][0]["id"])

    async def scored() -> Any:
        rows = await query(server, select(SessionScore).where(SessionScore.session_id == seminar["id"]))
        return rows if len(rows) == 3 else None

    scores = {row.contact_id: row for row in await eventually(scored)}
    assert scores[came["contacts"][0]["id"]].attended and scores[came["contacts"][0]["id"]].score > 50
    assert all(scores[c["id"]].score == 0 for c in missed["contacts"])

    came_now = await api(server, "GET", f"/api/v1/accounts/{came['id']}", csm.token)
    assert came_now["phase"] == "establishment" and came_now["health"] != "at_risk"
    moved = next(h for h in came_now["history"] if h["field"] == "phase" and h["new"] == "establishment")
    assert moved["rule"] == "welcome_seminar_attended" and moved["evidence"] == [seminar["id"]]
    assert moved["config_version"] and "welcome seminar" in moved["reason"]

    missed_now = await api(server, "GET", f"/api/v1/accounts/{missed['id']}", csm.token)
    assert missed_now["phase"] == "onboarding" and missed_now["health"] == "at_risk" and missed_now["at_risk"]
    assert missed_now["tier"] == "low"  # tech, raised one step while at risk
    assert {h["rule"] for h in missed_now["history"]} >= {"at_risk_low_engagement", "at_risk_escalation"}

    # The no-shows are invited to the next welcome seminar, saying why.
    reinvited = await query(server, select(Invitation).where(Invitation.session_id == next_id))
    assert {(r.contact_id, r.reason) for r in reinvited} == {(c["id"], "no_show") for c in missed["contacts"]}

    # The at-risk account has a proposed check-in with its CSM, which the CSM confirms.
    one_on_ones = await api(server, "GET", "/api/v1/sessions?kind=one_on_one", csm.token)
    [check_in] = [s for s in one_on_ones if s["account_id"] == missed["id"]]
    assert check_in["proposed"] and check_in["host_email"] == csm.email and check_in["duration_minutes"] == 30
    starts = datetime.fromisoformat(check_in["starts_at"])
    assert starts == check_in_start(datetime.fromisoformat(check_in["created_at"]))
    check_in_invites = await api(server, "GET", f"/api/v1/sessions/{check_in['id']}/invitations", csm.token)
    assert {i["contact_id"] for i in check_in_invites} == {c["id"] for c in missed["contacts"]}
    confirmed = await api(server, "POST", f"/api/v1/sessions/{check_in['id']}/confirm", csm.token)
    assert confirmed["proposed"] is False

    # Webhooks are queued in the same transaction: tier, phase, at-risk and the whole session report.
    deliveries = await api(server, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", admin.token)
    types = sorted(d["type"] for d in deliveries)
    assert types == sorted(
        ["account.phase_changed", "account.at_risk", "account.tier_changed", "session.ended"]
    ), types
    [body] = [
        row.body
        for row in await query(server, select(WebhookDelivery).where(WebhookDelivery.type == "session.ended"))
    ]
    report = json.loads(body)["data"]
    assert report["session"]["id"] == seminar["id"] and report["summary"] == {"invited": 3, "attended": 1, "no_shows": 2}
    attendee_row = next(r for r in report["attendance"] if r["contact_id"] == came["contacts"][0]["id"])
    assert attendee_row["intervals"] and attendee_row["poll_answers"] == 1 and attendee_row["chat_messages"] == 1
    [poll] = report["polls"]
    assert poll["counts"] == [1, 0] and poll["voters"] == 1
    assert poll["votes"][0]["contact_id"] == came["contacts"][0]["id"] and poll["votes"][0]["choices"] == [0]

    # Running the end pipeline again changes nothing: a session is scored and announced once.
    engine = create_engine(server.settings.database_url)
    try:
        async with session_factory(engine)() as db:
            loop = Loop(server.app[ENGAGEMENT], server.settings.secret_key, server.url)
            assert await close_session(db, seminar["id"], loop, datetime.now(UTC)) is None
    finally:
        await engine.dispose()
    deliveries_after = await api(server, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", admin.token)
    assert len(deliveries_after) == len(deliveries)


async def test_handing_a_manual_tier_back_reevaluates_the_account_at_once(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm = staff["csm"]
    account = await new_account(server, csm.token, "Pinned", mrr=500.0)
    assert account["tier"] == "tech"
    pinned = await api(
        server, "PATCH", f"/api/v1/accounts/{account['id']}", csm.token, {"tier": "high", "reason": "Board asked"}
    )
    assert pinned["tier"] == "high" and pinned["tier_source"] == "manual"
    released = await api(server, "PATCH", f"/api/v1/accounts/{account['id']}", csm.token, {"tier": None})
    assert released["tier_source"] == "engine" and released["reevaluated"]["tier"] == "tech"
    after = await api(server, "GET", f"/api/v1/accounts/{account['id']}", csm.token)
    assert after["tier"] == "tech" and after["tier_source"] == "engine"
    back = [h for h in after["history"] if h["field"] == "tier" and h["source"] == "engine" and h["old"] == "high"]
    assert back and back[0]["new"] == "tech" and back[0]["rule"] == "ltv_band"


def test_a_check_in_is_proposed_two_business_days_out_at_three_in_the_afternoon_utc() -> None:
    thursday = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert check_in_start(thursday) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday
    assert check_in_start(datetime(2026, 11, 23, 23, 0, tzinfo=UTC)) == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert check_in_start(datetime(2026, 11, 28, 12, 0, tzinfo=UTC)) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
