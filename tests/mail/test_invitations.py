"""Invitation mails reach a real SMTP server: headers, parts, the join link and the .ics, once each."""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

from icalendar import Calendar

from tests.conftest import ServerFactory, add_staff, free_port
from tests.engagement.support import api, new_account, schedule
from tests.mail.support import SmtpSink, calendar_of, text_of


async def test_an_invited_contact_gets_a_readable_invitation_with_their_link_and_a_calendar_request(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url, mail_from="Acme Success <success@acme.test>")
    host = await add_staff(sqlite_url, "csm@example.com", "csm")
    account = await new_account(server, host.token, "Globex", contacts=2)
    session = await schedule(server, host.token, host.email, title="Roadmap webinar", account_ids=[account["id"]])

    received = await smtp_sink.wait_for(2)
    assert len(received) == 2
    by_to = {parseaddr(str(m["To"]))[1]: m for m in received}
    assert set(by_to) == {"p1@globex.test", "p2@globex.test"}
    invitation = next(i for i in session["invitations"] if i["email"] == "p1@globex.test")
    message = by_to["p1@globex.test"]
    assert str(message["To"]) == "Globex person 1 <p1@globex.test>"
    assert str(message["From"]) == "Acme Success <success@acme.test>"
    assert str(message["Subject"]).startswith("Invitation: Roadmap webinar on ")
    assert parsedate_to_datetime(str(message["Date"])).tzinfo is not None
    assert str(message["Message-ID"]).endswith("@127.0.0.1>")
    assert message["List-Unsubscribe"] is None  # an invitation is not a newsletter
    text, html = text_of(message), text_of(message, "html")
    assert "Hello Globex person 1," in text and invitation["join_url"] in text
    assert f'href="{invitation["join_url"]}"' in html
    assert message["Message-ID"] != by_to["p2@globex.test"]["Message-ID"]

    calendar = Calendar.from_ical(calendar_of(message))
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"{session['id']}-{invitation['contact_id']}@live"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["URL"]) == invitation["join_url"]
    assert event.decoded("DTSTART") == datetime.fromisoformat(session["starts_at"]).replace(microsecond=0)
    assert str(event["ATTENDEE"]).lower() == "mailto:p1@globex.test"

    listed = await api(server, "GET", f"/api/v1/sessions/{session['id']}/invitations", host.token)
    assert {i["email_status"] for i in listed} == {"sent"}
    assert all(i["sent_at"] for i in listed)


async def test_inviting_again_sends_nothing_unless_resend_is_asked(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    host = await add_staff(sqlite_url, "csm@example.com", "csm")
    account = await new_account(server, host.token, "Initech", contacts=1)
    session = await schedule(server, host.token, host.email, account_ids=[account["id"]])
    await smtp_sink.wait_for(1)
    path = f"/api/v1/sessions/{session['id']}/invitations"

    await api(server, "POST", path, host.token, {"account_ids": [account["id"]]})
    await api(server, "POST", path, host.token, {"account_ids": [account["id"]], "resend": True})
    await smtp_sink.wait_for(2)
    # Give the loop a few more sweeps: a duplicate of the plain re-invite would arrive meanwhile.
    received = await smtp_sink.wait_for(3, within=1.5)
    assert len(received) == 2
    assert received[0]["Message-ID"] != received[1]["Message-ID"]
    assert all(str(m["Subject"]).startswith("Invitation: ") for m in received)


async def test_an_smtp_server_that_refuses_gets_each_message_again_until_it_accepts_and_never_twice(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse = 2
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    account = await new_account(server, admin.token, "Hooli", contacts=3)
    session = await schedule(server, admin.token, admin.email, account_ids=[account["id"]])

    received = await smtp_sink.wait_for(3)
    assert smtp_sink.refusals == 2
    assert sorted(parseaddr(str(m["To"]))[1] for m in received) == ["p1@hooli.test", "p2@hooli.test", "p3@hooli.test"]
    mails = await api(server, "GET", "/api/v1/mail", admin.token)
    ours = [m for m in mails["messages"] if m["session_id"] == session["id"]]
    assert sorted(m["status"] for m in ours) == ["sent"] * 3
    assert sum(m["attempts"] for m in ours) == 3 + 2  # two refused attempts, then one accepted each
    assert len({str(m["Message-ID"]) for m in received}) == 3
    assert len(await smtp_sink.wait_for(4, within=1.5)) == 3
    metrics = (await server.request("GET", "/metrics")).text
    assert 'live_mails_total{status="sent"} 3.0' in metrics
    assert 'live_mails_total{status="attempt_failed"} 2.0' in metrics


async def test_without_an_smtp_server_each_mail_is_an_eml_file_listed_on_the_mail_page(
    make_server: ServerFactory, sqlite_url: str, tmp_path: Path
) -> None:
    server = await make_server(sqlite_url, mail_dir=tmp_path / "outbox")
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    account = await new_account(server, admin.token, "Umbrella", contacts=1)
    await schedule(server, admin.token, admin.email, title="Welcome aboard", account_ids=[account["id"]])
    for _ in range(200):
        files = list((tmp_path / "outbox").glob("*.eml"))
        if files:
            break
        await asyncio.sleep(0.05)
    [eml] = files
    assert "To: Umbrella person 1 <p1@umbrella.test>" in eml.read_text()
    page = await server.request("GET", "/mail", admin.token)
    assert page.status == 200
    assert "Invitation: Welcome aboard" in page.text and "p1@umbrella.test" in page.text
    assert 'data-testid="mail-status">sent<' in page.text
    [mail] = (await api(server, "GET", "/api/v1/mail", admin.token))["messages"]
    shown = await server.request("GET", f"/mail/{mail['id']}", admin.token)
    assert shown.status == 200 and "Hello Umbrella person 1," in shown.text and "invite.ics" in shown.text
    raw = await server.request("GET", f"/mail/{mail['id']}.eml", admin.token)
    assert raw.text == eml.read_bytes().decode()


async def test_mail_queued_during_an_smtp_outage_survives_a_restart_and_goes_once(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    down = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    first = await make_server(sqlite_url, smtp_url=down)
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    account = await new_account(first, admin.token, "Pied Piper", contacts=2)
    session = await schedule(first, admin.token, admin.email, account_ids=[account["id"]])
    for _ in range(400):
        mails = (await api(first, "GET", "/api/v1/mail", admin.token))["messages"]
        if len(mails) == 2 and all(m["attempts"] >= 1 for m in mails):
            break
        await asyncio.sleep(0.05)
    assert {m["status"] for m in mails} == {"queued"} and all("Connect" in (m["error"] or "") for m in mails)
    listed = await api(first, "GET", f"/api/v1/sessions/{session['id']}/invitations", admin.token)
    assert {i["email_status"] for i in listed} == {"queued"}
    await first.stop()

    second = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    received = await smtp_sink.wait_for(2)
    assert sorted(parseaddr(str(m["To"]))[1] for m in received) == ["p1@pied-piper.test", "p2@pied-piper.test"]
    assert len(await smtp_sink.wait_for(3, within=1.5)) == 2
    listed = await api(second, "GET", f"/api/v1/sessions/{session['id']}/invitations", admin.token)
    assert {i["email_status"] for i in listed} == {"sent"}
