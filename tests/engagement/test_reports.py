"""The attendance report over HTTP: rows derived from a real session's event log, live and ended, and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.conftest import LiveServer, StaffMember
from tests.engagement.support import api, eventually, join, new_account, ok, schedule, token_of


async def test_a_live_and_then_ended_session_reports_everyone_invited_or_present(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm, host = staff["csm"], staff["host"]
    acme = await new_account(server, csm.token, "Acme", contacts=2)
    ann, bob = acme["contacts"]
    session = await schedule(server, csm.token, host.email, account_ids=[acme["id"]])
    sid = session["id"]

    host_client = await join(server, host.token, sid)
    await ok(host_client, "session.start")
    ann_client = await join(server, token_of(session, ann["id"]), sid)
    await ok(ann_client, "chat.send", {"text": "Hello from Ann"})
    await ok(ann_client, "reaction.send", {"kind": "applause"})

    async def ann_is_chatting() -> Any:
        rows = await api(server, "GET", f"/api/v1/sessions/{sid}/attendance", host.token)
        row = next((r for r in rows if r["contact_id"] == ann["id"]), None)
        return rows if row and row["chat_messages"] == 1 and row["reactions"] == 1 else None

    live_rows = await eventually(ann_is_chatting)
    live_ann = next(r for r in live_rows if r["contact_id"] == ann["id"])
    assert live_ann["left_at"] is None and live_ann["joined_at"] is not None and not live_ann["no_show"]
    assert live_ann["intervals"] == [{"joined_at": live_ann["joined_at"], "left_at": live_ann["intervals"][0]["left_at"]}]

    await ann_client.close()
    await ok(host_client, "session.end")
    await host_client.close()

    async def ended() -> Any:
        rows = await api(server, "GET", f"/api/v1/sessions/{sid}/attendance", csm.token)
        row = next(r for r in rows if r["contact_id"] == ann["id"])
        return rows if row["left_at"] is not None else None

    rows = await eventually(ended)
    by_contact = {r["contact_id"]: r for r in rows}
    assert set(by_contact) == {None, ann["id"], bob["id"]}
    staff_row = by_contact[None]
    assert staff_row["role"] == "host" and staff_row["email"] == host.email and staff_row["score"] is None
    ann_row, bob_row = by_contact[ann["id"]], by_contact[bob["id"]]
    assert ann_row["account_id"] == acme["id"] and ann_row["email"] == ann["email"] and ann_row["invited"]
    assert ann_row["present_seconds"] > 0 and ann_row["chat_messages"] == 1 and ann_row["reactions"] == 1
    assert ann_row["score"] > 0 and set(ann_row["components"]) >= {"attendance", "attention", "conversation"}
    assert ann_row["intervals"][0]["left_at"] == ann_row["left_at"]
    assert bob_row["no_show"] and bob_row["score"] == 0 and not bob_row["attended"] and bob_row["intervals"] == []
    for key in ("present_seconds", "focused_seconds", "camera_seconds", "questions", "poll_answers", "hand_raises"):
        assert key in bob_row

    report = await server.request("GET", f"/api/v1/sessions/{sid}/report.csv", host.token)
    assert report.status == 200 and report.headers["Content-Type"].startswith("text/csv")
    assert 'filename="attendance-roadmap-webinar-' in report.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(report.text)))
    assert len(table) == 3
    ann_csv = next(r for r in table if r["contact_id"] == ann["id"])
    start, end = ann_csv["intervals"].split("–")
    assert start == ann_row["joined_at"] and end == ann_row["left_at"]
    assert ann_csv["no_show"] == "false" and float(ann_csv["score"]) == ann_row["score"]


async def test_the_report_needs_staff_and_an_existing_session(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    assert (await server.request("GET", "/api/v1/sessions/nope/attendance", staff["host"].token)).status == 404
    assert (await server.request("GET", "/api/v1/sessions/nope/attendance")).status == 401
    assert (await server.request("GET", "/api/v1/sessions/nope/report.csv")).status == 401
