"""After a session: a thank-you to each person who came, a missed-you to each invited no-show, once each."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr

from tests.conftest import ServerFactory, add_staff
from tests.engagement.support import join, new_account, ok, schedule, token_of
from tests.mail.support import SmtpSink, subject, text_of


async def test_a_short_welcome_seminar_thanks_who_came_and_offers_the_no_show_the_next_one(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    csm = await add_staff(sqlite_url, "csm@example.com", "csm")
    account = await new_account(server, csm.token, "Bluth", contacts=2)  # a new account: onboarding
    seminar = await schedule(server, csm.token, csm.email, kind="welcome_seminar", title="Welcome, part one",
                             account_ids=[account["id"]])
    following = await schedule(server, csm.token, csm.email, kind="welcome_seminar", title="Welcome, part two",
                               starts_in=timedelta(days=7))
    came, missed = (c["id"] for c in account["contacts"])

    host = await join(server, csm.token, seminar["id"])
    guest = await join(server, token_of(seminar, came), seminar["id"])
    await ok(host, "session.start")
    await ok(guest, "chat.send", {"text": "Hi!"})
    await guest.close()
    await ok(host, "session.end")  # seconds long: too short to score, never too short to thank
    await host.close()

    [thanks] = await smtp_sink.wait_for(1, subject("Thank you for joining Welcome, part one"))
    [sorry] = await smtp_sink.wait_for(1, subject("Sorry we missed you at Welcome, part one"))
    assert parseaddr(str(thanks["To"]))[1] == "p1@bluth.test"
    assert parseaddr(str(sorry["To"]))[1] == "p2@bluth.test"
    for message in (thanks, sorry):
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    next_link = next(i["join_url"] for i in following["invitations"] if i["contact_id"] == missed)
    assert "Welcome, part two" in text_of(sorry) and next_link in text_of(sorry)
    assert "recording" not in text_of(thanks)  # no replay link until recordings exist
    later = await smtp_sink.wait_for(3, lambda m: str(m["Subject"]).startswith(("Thank you", "Sorry")), within=1.0)
    assert len(later) == 2
