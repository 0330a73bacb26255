"""Mail as an invitation changes and as its session nears: updates, cancels, reminders once, one-click unsubscribe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from icalendar import Calendar
from sqlalchemy import update

from live.db.engine import create_engine, session_factory
from live.db.tables import Invitation
from tests.conftest import ServerFactory, add_staff
from tests.engagement.support import api, new_account, schedule
from tests.mail.support import SmtpSink, calendar_of, subject, text_of


def to(message: EmailMessage) -> str:
    return parseaddr(str(message["To"]))[1]


def vevent(message: EmailMessage) -> tuple[str, object]:
    calendar = Calendar.from_ical(calendar_of(message))
    [event] = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


async def invited_hours_ago(database_url: str, session_id: str, hours: float) -> None:
    """As if the invitations went out `hours` ago: a reminder is only for people invited before its moment."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            await db.execute(
                update(Invitation).where(Invitation.session_id == session_id)
                .values(created_at=datetime.now(UTC) - timedelta(hours=hours))
            )
            await db.commit()
    finally:
        await engine.dispose()


async def test_a_reschedule_sends_an_update_and_a_cancel_or_un_invite_withdraws_the_calendar_entry(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    account = await new_account(server, csm.token, "Vandelay", contacts=2)
    session = await schedule(server, csm.token, csm.email, title="Import-export briefing",
                             account_ids=[account["id"]], starts_in=timedelta(days=3))
    await smtp_sink.wait_for(2, subject("Invitation: "))
    p1, p2 = (c["id"] for c in account["contacts"])
    uids = {c: f"{session['id']}-{c}@live" for c in (p1, p2)}

    later = (datetime.now(UTC) + timedelta(days=4)).replace(microsecond=0)
    await api(server, "PATCH", f"/api/v1/sessions/{session['id']}", csm.token, {"starts_at": later.isoformat()})
    updates = await smtp_sink.wait_for(2, subject("Updated: "))
    assert sorted(to(m) for m in updates) == ["p1@vandelay.test", "p2@vandelay.test"]
    for message in updates:
        method, event = vevent(message)
        assert method == "REQUEST" and int(event["SEQUENCE"]) == 1  # type: ignore[index]
        assert event.decoded("DTSTART") == later  # type: ignore[attr-defined]
        assert later.strftime("%H:%M") in text_of(message)
    assert {str(vevent(m)[1]["UID"]) for m in updates} == set(uids.values())  # type: ignore[index]

    await api(server, "DELETE", f"/api/v1/sessions/{session['id']}/invitations/{p2}", csm.token, status=204)
    [withdrawn] = await smtp_sink.wait_for(1, subject("Cancelled: "))
    method, event = vevent(withdrawn)
    assert to(withdrawn) == "p2@vandelay.test" and method == "CANCEL"
    assert str(event["UID"]) == uids[p2]  # type: ignore[index]
    assert "no longer expected" in text_of(withdrawn)

    await api(server, "DELETE", f"/api/v1/sessions/{session['id']}", csm.token)
    cancels = await smtp_sink.wait_for(2, subject("Cancelled: "))
    [cancelled] = [m for m in cancels if to(m) == "p1@vandelay.test"]
    method, event = vevent(cancelled)
    assert method == "CANCEL" and str(event["UID"]) == uids[p1] and str(event["STATUS"]) == "CANCELLED"  # type: ignore[index]
    assert int(event["SEQUENCE"]) == 2  # type: ignore[index]
    assert "is cancelled" in text_of(cancelled)
    assert len(await smtp_sink.wait_for(3, subject("Cancelled: "), within=1.0)) == 2


async def test_reminders_go_once_with_one_click_unsubscribe_and_an_unsubscribed_person_is_suppressed(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url, reminders=(timedelta(hours=1),),
                               reminder_interval=0.1)
    admin = await add_staff(sqlite_url, "admin@example.com", "admin")
    account = await new_account(server, admin.token, "Wonka", contacts=2)
    first = await schedule(server, admin.token, admin.email, title="Chocolate hour", account_ids=[account["id"]],
                           starts_in=timedelta(minutes=30))
    await invited_hours_ago(sqlite_url, first["id"], 2)

    reminders = await smtp_sink.wait_for(2, subject("Reminder: Chocolate hour"))
    assert sorted(to(m) for m in reminders) == ["p1@wonka.test", "p2@wonka.test"]
    message = next(m for m in reminders if to(m) == "p1@wonka.test")
    assert str(message["Subject"]) == "Reminder: Chocolate hour starts in 1 hour"
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    unsubscribe_url = str(message["List-Unsubscribe"]).strip("<>")
    assert unsubscribe_url.startswith(f"{server.url}/unsubscribe/")
    assert unsubscribe_url in text_of(message)
    assert len(await smtp_sink.wait_for(3, subject("Reminder: "), within=1.0)) == 2  # never twice

    # What a mail client does with RFC 8058: a POST with this one form field, no cookie.
    clicked = await server.request("POST", unsubscribe_url.removeprefix(server.url),
                                   data={"List-Unsubscribe": "One-Click"})
    assert clicked.status == 200 and "You are unsubscribed" in clicked.text
    confirm = await server.request("GET", unsubscribe_url.removeprefix(server.url))
    assert confirm.status == 200 and "p1@wonka.test will get no more reminders" in confirm.text
    forged = await server.request("POST", "/unsubscribe/not-a-token")
    assert forged.status == 404

    second = await schedule(server, admin.token, admin.email, title="Second helping", account_ids=[account["id"]],
                            starts_in=timedelta(minutes=30))
    await smtp_sink.wait_for(4, subject("Invitation: "))  # invitations still reach the unsubscribed person
    assert "p1@wonka.test" in {to(m) for m in smtp_sink.where(subject("Invitation: Second helping"))}
    await invited_hours_ago(sqlite_url, second["id"], 2)
    [only] = await smtp_sink.wait_for(1, subject("Reminder: Second helping"))
    assert to(only) == "p2@wonka.test"
    for _ in range(100):
        listed = (await api(server, "GET", "/api/v1/mail", admin.token))["messages"]
        states = {(m["to"], m["kind"]): m["status"] for m in listed if m["session_id"] == second["id"]}
        if states.get(("p1@wonka.test", "reminder")) != "queued":
            break
    assert states[("p1@wonka.test", "reminder")] == "suppressed"
    assert states[("p2@wonka.test", "reminder")] == "sent"
    assert len(await smtp_sink.wait_for(2, subject("Reminder: Second helping"), within=1.0)) == 1


async def test_two_processes_on_postgres_send_each_reminder_exactly_once(
    make_server: ServerFactory, postgres_url: str, smtp_sink: SmtpSink
) -> None:
    options = {"smtp_url": smtp_sink.url, "reminders": (timedelta(hours=1),), "reminder_interval": 0.05,
               "outbox_interval": 0.05}
    first = await make_server(postgres_url, **options)
    await make_server(postgres_url, **options)
    admin = await add_staff(postgres_url, "admin@example.com", "admin")
    account = await new_account(first, admin.token, "Soylent", contacts=6)
    session = await schedule(first, admin.token, admin.email, title="Both processes",
                             account_ids=[account["id"]], starts_in=timedelta(minutes=20))
    await invited_hours_ago(postgres_url, session["id"], 3)

    reminders = await smtp_sink.wait_for(6, subject("Reminder: Both processes"))
    assert sorted(to(m) for m in reminders) == [f"p{n}@soylent.test" for n in range(1, 7)]
    # Both processes keep sweeping (every 50 ms): a duplicate would arrive within this second.
    assert len(await smtp_sink.wait_for(7, subject("Reminder: "), within=1.0)) == 6
    assert len(await smtp_sink.wait_for(7, subject("Invitation: "), within=0.1)) == 6
