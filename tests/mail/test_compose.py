"""Composed mail is, byte for byte, what the `email` package writes for the same parts, and a session's batch
writes each person the very message rendered for them alone."""

from __future__ import annotations

import email
import quopri
import random
import re
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from pathlib import Path

import pytest
from icalendar import Calendar
from icalendar.parser import Contentline

from live.mail.compose import POLICY, Composed, Composer
from live.mail.model import MailKind
from live.sessions.invitations import IcsTemplate, fold_ics_line, ics_invite

NAMES = [
    "Ann Example",
    "O'Brien, Dana <ceo@x>",
    'Quote "Q" & <b>bold</b>',
    "Zoë Müller-Łukasiewicz",
    "名前 テスト",
    "A very long name " * 8,
    "Back\\slash; semi, colon: caret^",
]
CONTEXT = {"title": "Roadmap: Q3 & beyond, für alle", "starts_at": datetime(2030, 5, 4, 15, tzinfo=UTC),
           "duration_minutes": 45, "kind_label": "webinar", "host_name": "Hanna Host"}
JOIN = "http://live.test/join/eyJzIjoiYWJjIiwiYyI6ImRlZiJ9.sIgNaTuRe"
UNSUBSCRIBE = "http://live.test/unsubscribe/ImNvbnRhY3QiLg.sIgNaTuRe"


def ics_for(name: str, method: str = "REQUEST") -> bytes:
    return ics_invite(uid="s1-c1@live", title=str(CONTEXT["title"]), starts_at=CONTEXT["starts_at"],  # type: ignore[arg-type]
                      duration_minutes=45, url=JOIN, organizer_email="host@live.test", organizer_name="Hanna Host",
                      attendee_email="p@x.test", attendee_name=name, description="Roadmap (webinar).",
                      cancel=method == "CANCEL", stamp=datetime(2030, 5, 1, tzinfo=UTC))


def reference(composer: Composer, kind: MailKind, name: str, ics: bytes | None, method: str,
              unsubscribe_url: str | None, made: Composed) -> str:
    """The message as the email package builds and flattens it (how `Composer` built each one before), with
    the Message-ID and boundaries `made` drew at random."""
    parsed = email.message_from_string(made.message)
    values = composer.values(kind, {**CONTEXT, "join_url": JOIN}, name, unsubscribe_url)
    subject, _, text = composer.render(kind, values)[0].partition("\n")
    html = composer.render(kind, values)[1]

    def part(body: str, subtype: str) -> MIMEText:
        mime = MIMEText("", subtype, "utf-8")
        mime.replace_header("Content-Transfer-Encoding", "quoted-printable")
        mime.set_payload(quopri.encodestring(body.replace("\r\n", "\n").encode()).decode("ascii"))
        return mime

    alternative = MIMEMultipart("alternative")
    alternative.attach(part(text.lstrip("\n"), "plain"))
    alternative.attach(part(html, "html"))
    if ics is None:
        msg = alternative
        alternative.set_boundary(parsed.get_boundary())
    else:
        msg = MIMEMultipart("mixed")
        msg.attach(alternative)
        calendar = MIMEText(ics.decode(), "calendar", "utf-8")
        calendar.set_param("method", method)
        calendar.add_header("Content-Disposition", "attachment", filename="invite.ics")
        msg.attach(calendar)
        msg.set_boundary(parsed.get_boundary())
        alternative.set_boundary(parsed.get_payload()[0].get_boundary())
    msg["From"] = formataddr(("Acme Success", "success@acme.test"), charset="utf-8")
    msg["To"] = formataddr((name, "p@x.test"), charset="utf-8")
    subject = subject.strip()
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    msg["Message-ID"] = parsed["Message-ID"]
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg.as_string(policy=POLICY)


CASES = [(MailKind.INVITATION, "REQUEST", False), (MailKind.CANCEL, "CANCEL", False), (MailKind.REMINDER, None, True)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("kind", "method", "unsubscribable"), CASES)
def test_each_message_is_the_bytes_the_email_package_writes_and_a_batch_writes_the_same(
    name: str, kind: MailKind, method: str | None, unsubscribable: bool
) -> None:
    composer = Composer("Acme Success <success@acme.test>", "http://live.test")
    ics = ics_for(name, method) if method else None
    unsubscribe = UNSUBSCRIBE if unsubscribable else None
    one = composer.compose(kind, to_email="p@x.test", to_name=name, context={**CONTEXT, "join_url": JOIN}, ics=ics,
                           ics_method=method or "REQUEST", unsubscribe_url=unsubscribe)
    assert one.message == reference(composer, kind, name, ics, method or "REQUEST", unsubscribe, one)

    batch = composer.batch(kind, CONTEXT, unsubscribe=unsubscribable)
    batch.compose(to_email="first@x.test", to_name="First Person", join_url=JOIN + "x",
                  ics=ics_for("First Person", method) if method else None,
                  ics_method=method or "REQUEST", unsubscribe_url=unsubscribe)
    assert batch.exact is True
    many = batch.compose(to_email="p@x.test", to_name=name, join_url=JOIN, ics=ics, ics_method=method or "REQUEST",
                         unsubscribe_url=unsubscribe)
    assert many.subject == one.subject
    assert many.message == reference(composer, kind, name, ics, method or "REQUEST", unsubscribe, many)

    parsed = email.message_from_string(many.message, policy=email.policy.default)
    assert parsed["To"].addresses[0].display_name == name.strip()
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert f"Hello {name}," in text and (JOIN in text) == (kind is not MailKind.CANCEL)
    if ics is not None:
        calendar = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
        [event] = Calendar.from_ical(calendar.get_payload(decode=True)).walk("VEVENT")
        assert str(event["ATTENDEE"].params["CN"]) == name


def test_a_template_that_treats_one_person_differently_is_rendered_in_full_for_everyone(tmp_path: Path) -> None:
    for part in ("txt", "html"):
        (tmp_path / f"invitation.{part}").write_text(
            "Invitation: {{ title }}\n{% if name == 'Ann' %}Dear Ann{% else %}Hello {{ name }}{% endif %}, {{ join_url }}\n"
        )
    composer = Composer("live <noreply@live.test>", "http://live.test", templates=tmp_path)
    batch = composer.batch(MailKind.INVITATION, CONTEXT, unsubscribe=False)
    first = batch.compose(to_email="ann@x.test", to_name="Ann", join_url=JOIN)
    assert batch.exact is False
    second = batch.compose(to_email="bob@x.test", to_name="Bob", join_url=JOIN + "b")
    texts = [email.message_from_string(m.message, policy=email.policy.default).get_body(preferencelist=("plain",))
             .get_content() for m in (first, second)]
    assert texts == [f"Dear Ann, {JOIN}\r\n", f"Hello Bob, {JOIN}b\r\n"]


def test_boundaries_and_message_ids_differ_from_one_message_to_the_next() -> None:
    composer = Composer("live <noreply@live.test>", "http://live.test")
    batch = composer.batch(MailKind.INVITATION, CONTEXT, unsubscribe=False)
    made = [batch.compose(to_email=f"p{n}@x.test", to_name=f"P {n}", join_url=JOIN, ics=ics_for("P")) for n in range(3)]
    ids = {re.search(r"Message-ID: (\S+)", m.message).group(1) for m in made}  # type: ignore[union-attr]
    boundaries = {b for m in made for b in re.findall(r'boundary="([^"]+)"', m.message)}
    assert len(ids) == 3 and len(boundaries) == 6
    assert all(id_.endswith("@live.test>") for id_ in ids)


@pytest.mark.parametrize("cancel", [False, True])
def test_a_sessions_calendar_template_writes_each_person_the_ics_invite_would(cancel: bool) -> None:
    fields = {"title": "Roadmap: Q3, Q4; and \\ beyond " * 3, "starts_at": datetime(2030, 5, 4, 15, tzinfo=UTC),
              "duration_minutes": 45, "organizer_email": "host@live.test", "organizer_name": "Hanna, the Host",
              "description": "Roadmap (webinar).", "sequence": 3, "cancel": cancel,
              "stamp": datetime(2030, 5, 1, 8, 30, tzinfo=UTC)}
    template = IcsTemplate(session_id="0123abcd" * 4, public_url="https://live.example.com:8443/base", **fields)  # type: ignore[arg-type]
    for n, name in enumerate(NAMES):
        contact_id = f"{n:02d}" + "f" * 30
        for token in ("eyJzIjoiMDEyM2FiY2QiLCJjIjoiMDBmZmYifQ.AbC-_x" * (n + 1), "not/plain token"):
            email_address = f"person.{n}+tag@example.com"
            made = template.render(contact_id=contact_id, token=token, attendee_email=email_address,
                                   attendee_name=name)
            expected = ics_invite(uid=f"{'0123abcd' * 4}-{contact_id}@live",
                                  url=f"https://live.example.com:8443/base/join/{token}",
                                  attendee_email=email_address, attendee_name=name, **fields)  # type: ignore[arg-type]
            assert made == expected


def test_ics_lines_are_folded_as_icalendar_folds_them() -> None:
    rng = random.Random(15)
    alphabet = "ab ,;:\\^n\"é"
    for length in [*range(0, 160), *(rng.randrange(160, 600) for _ in range(200))]:
        line = "DESCRIPTION:" + "".join(rng.choice(alphabet if length % 3 else alphabet[:-1]) for _ in range(length))
        assert fold_ics_line(line) == Contentline(line).to_ical().decode(), line
