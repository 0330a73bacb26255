"""The public registration page: who a registrant becomes, the mail and webhook they cause, and every refusal."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from live.api.client import parse_networks
from tests.conftest import REDIS_URL, LiveServer, ServerFactory, StaffMember, add_staff, free_port
from tests.engagement.support import api, new_account, schedule
from tests.mail.support import SmtpSink, subject, text_of

QUESTIONS = [{"id": "goal", "text": "What do you want to learn?", "required": True},
             {"id": "team", "text": "How big is your team?"}]


async def form_token(server: LiveServer, session_id: str) -> str:
    page = await server.request("GET", f"/r/{session_id}")
    assert page.status == 200, page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


async def post(server: LiveServer, session_id: str, token: str, **fields: str) -> Any:
    return await server.request("POST", f"/r/{session_id}", data={"csrf_token": token, **fields})


async def open_webinar(server: LiveServer, staff: StaffMember, **extra: Any) -> dict[str, Any]:
    session = await schedule(server, staff.token, staff.email, title="Open roadmap webinar",
                             starts_in=timedelta(days=2))
    return await api(server, "PATCH", f"/api/v1/sessions/{session['id']}", staff.token,
                     {"registration": "open", "questions": QUESTIONS, **extra})


async def test_a_registrant_is_matched_by_address_then_domain_then_unassigned_and_answers_reach_the_report(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    known = await new_account(server, csm.token, "Globex", contacts=1)
    await api(server, "PATCH", f"/api/v1/accounts/{known['id']}", csm.token, {"domain": "globex.test"})
    session = await open_webinar(server, csm)
    assert session["registration"] == "open" and session["registration_url"] == f"{server.url}/r/{session['id']}"
    token = await form_token(server, session["id"])

    page = await post(server, session["id"], token, name="Globex person 1", email="P1@globex.test",
                      q_goal="Reporting")
    assert page.status == 200 and "You are registered, Globex person 1" in page.text
    join = re.search(r'href="([^"]+/join/[^"]+)" data-testid="join-link"', page.text)
    assert join is not None
    await post(server, session["id"], token, name="New Colleague", email="new@globex.test", q_goal="Billing",
               q_team="=12")
    await post(server, session["id"], token, name="Stranger", email="someone@elsewhere.test", q_goal="Everything",
               company="Elsewhere Ltd")

    invitations = await api(server, "GET", f"/api/v1/sessions/{session['id']}/invitations", csm.token)
    by_email = {i["email"]: i for i in invitations}
    assert set(by_email) == {"p1@globex.test", "new@globex.test", "someone@elsewhere.test"}
    assert by_email["p1@globex.test"]["contact_id"] == known["contacts"][0]["id"]
    assert by_email["p1@globex.test"]["join_url"] == join.group(1)
    assert by_email["new@globex.test"]["account_id"] == known["id"]
    unassigned = await api(server, "GET", f"/api/v1/accounts/{by_email['someone@elsewhere.test']['account_id']}",
                           csm.token)
    assert unassigned["name"] == "Unassigned"

    confirmations = await smtp_sink.wait_for(3, subject("You're registered: Open roadmap webinar"))
    assert len(confirmations) == 3
    mine = next(m for m in confirmations if "p1@globex.test" in str(m["To"]))
    assert join.group(1) in text_of(mine)
    assert len(await smtp_sink.wait_for(4, lambda m: True, within=1.0)) == 3  # no invitation on top

    rows = await api(server, "GET", f"/api/v1/sessions/{session['id']}/attendance", csm.token)
    answers = {r["email"]: r["answers"] for r in rows}
    assert answers["p1@globex.test"] == {"goal": "Reporting"}
    assert answers["new@globex.test"] == {"goal": "Billing", "team": "=12"}
    report = await server.request("GET", f"/api/v1/sessions/{session['id']}/report.csv", csm.token)
    table = list(csv.DictReader(io.StringIO(report.text)))
    by_row = {r["email"]: r for r in table}
    assert by_row["new@globex.test"]["What do you want to learn?"] == "Billing"
    assert by_row["new@globex.test"]["How big is your team?"] == "'=12"  # never a formula in a spreadsheet

    again = await post(server, session["id"], token, name="Globex person 1", email="p1@globex.test", q_goal="x")
    assert again.status == 200 and "already registered" in again.text


async def test_bad_registrations_get_a_clear_message_and_save_nothing(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    server = await make_server(sqlite_url, register_burst=5, register_rate=0.0001)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    session = await open_webinar(server, csm)
    token = await form_token(server, session["id"])

    missing = await post(server, session["id"], token, name="", email="a@b.test", q_goal="x")
    assert missing.status == 400 and "Please give your name." in missing.text
    bad_email = await post(server, session["id"], token, name="Ann", email="not-an-address", q_goal="x")
    assert bad_email.status == 400 and "is not an email address" in bad_email.text
    assert 'value="Ann"' in bad_email.text  # what was typed stays in the form
    unanswered = await post(server, session["id"], token, name="Ann", email="ann@b.test")
    assert unanswered.status == 400 and "Please answer: What do you want to learn?" in unanswered.text
    forged = await server.request("POST", f"/r/{session['id']}", data={"name": "Ann", "email": "ann@b.test"})
    assert forged.status == 403 and "This form expired" in forged.text
    assert await api(server, "GET", f"/api/v1/sessions/{session['id']}/invitations", csm.token) == []

    for _ in range(2):
        await post(server, session["id"], token, name="Ann", email="", q_goal="x")
    flooded = await post(server, session["id"], token, name="Ann", email="ann@b.test", q_goal="x")
    assert flooded.status == 429 and "Too many registrations from your address" in flooded.text
    assert await api(server, "GET", f"/api/v1/sessions/{session['id']}/invitations", csm.token) == []

    invite_only = await schedule(server, csm.token, csm.email, title="Private")
    closed = await server.request("GET", f"/r/{invite_only['id']}")
    assert closed.status == 404 and "does not take registrations" in closed.text
    await api(server, "DELETE", f"/api/v1/sessions/{session['id']}", csm.token)
    cancelled = await server.request("GET", f"/r/{session['id']}")
    assert cancelled.status == 410 and "was cancelled" in cancelled.text
    refused = await api(server, "PATCH", f"/api/v1/sessions/{invite_only['id']}", csm.token,
                        {"questions": [{"text": f"Q{n}"} for n in range(6)]}, status=400)
    assert "at most 5" in refused["error"]["message"]


async def test_a_registration_sends_the_registration_created_webhook(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        server = await make_server(sqlite_url, webhook_allow_private=True)
        admin = await add_staff(sqlite_url, "admin@example.com", "admin")
        await api(server, "POST", "/api/v1/webhooks", admin.token,
                  {"url": f"http://127.0.0.1:{port}/hook", "events": ["registration.created"]}, status=201)
        session = await open_webinar(server, admin)
        token = await form_token(server, session["id"])
        await post(server, session["id"], token, name="Ann Example", email="ann@example.org", q_goal="Dashboards")
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.05)
        [body] = received
        assert body["type"] == "registration.created"
        assert body["data"]["session_id"] == session["id"] and body["data"]["email"] == "ann@example.org"
        assert body["data"]["answers"] == {"goal": "Dashboards"}
    finally:
        await runner.cleanup()


async def test_two_app_processes_on_one_redis_share_the_limit_of_attempts_per_address(
    make_server: ServerFactory, sqlite_url: str
) -> None:
    # Both behind a trusted proxy that names the visitor: a fresh address per run, so nothing another test
    # counted in the shared Redis database is in this one's bucket.
    visitor = f"2001:db8::{uuid.uuid4().hex[:4]}"
    options: dict[str, Any] = {"redis_url": REDIS_URL, "register_burst": 3, "register_rate": 0.0001,
                               "trusted_proxies": parse_networks(["127.0.0.1"]),
                               "secret_key": f"shared-{uuid.uuid4().hex}"}
    first = await make_server(sqlite_url, **options)
    second = await make_server(sqlite_url, **options)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    session = await open_webinar(first, csm)
    tokens = {server.url: await form_token(server, session["id"]) for server in (first, second)}

    async def attempt(server: LiveServer, n: int) -> Any:
        return await server.request("POST", f"/r/{session['id']}", headers={"X-Forwarded-For": visitor}, data={
            "csrf_token": tokens[server.url], "name": f"Visitor {n}", "email": f"v{n}@visitor.test", "q_goal": "x"})

    # Three attempts, spread over both processes, are the whole burst; the fourth is refused by either.
    statuses = [(await attempt(server, n)).status for n, server in enumerate((first, second, first))]
    assert statuses == [200, 200, 200]
    refused = await attempt(second, 3)
    assert refused.status == 429 and "Too many registrations from your address" in refused.text
    assert (await attempt(first, 4)).status == 429
    invitations = await api(first, "GET", f"/api/v1/sessions/{session['id']}/invitations", csm.token)
    assert sorted(i["email"] for i in invitations) == ["v0@visitor.test", "v1@visitor.test", "v2@visitor.test"]
    # Another address still gets through: the limit is per visitor, not per page.
    other = await first.request("POST", f"/r/{session['id']}", headers={"X-Forwarded-For": f"{visitor}:1"}, data={
        "csrf_token": tokens[first.url], "name": "Other", "email": "other@visitor.test", "q_goal": "x"})
    assert other.status == 200
