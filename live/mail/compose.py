"""Renders one mail (subject, text and HTML parts from `web/templates/mail/`, an optional `.ics`) into RFC 5322 text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from live.mail.model import MailKind

# CRLF line ends; headers kept on one line up to RFC 5322's hard limit, since the email package folds a long
# subject right after "Subject:", which some readers then show with a leading space.
POLICY = SMTP.clone(max_line_length=998)
TEMPLATES = Path(__file__).resolve().parent.parent.parent / "web" / "templates" / "mail"


@dataclass(frozen=True)
class Composed:
    subject: str
    # The message without its Date header, which the sender stamps (see `stamped`).
    message: str


def stamped(message: str, at: datetime) -> str:
    """The stored message with the Date of its sending in front: RFC 5322 wants the moment it left."""
    return f"Date: {format_datetime(at)}\r\n{message}"


def when_text(at: datetime) -> str:
    """`Tuesday 1 December 2026, 15:00 UTC`: unambiguous in any client; the .ics gives the local time."""
    return f"{at:%A} {at.day} {at:%B %Y, %H:%M} UTC"


class Composer:
    def __init__(self, sender: str, public_url: str, templates: Path = TEMPLATES) -> None:
        self.sender = sender
        self.public_url = public_url
        # Message-IDs name our own host, as RFC 5322 asks, so they are unique to this installation.
        self.domain = urlsplit(public_url).hostname or "localhost"
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates)),
            autoescape=jinja2.select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["when"] = when_text

    def compose(
        self,
        kind: MailKind,
        *,
        to_email: str,
        to_name: str,
        context: dict[str, Any],
        ics: bytes | None = None,
        ics_method: str = "REQUEST",
        unsubscribe_url: str | None = None,
    ) -> Composed:
        values = {**context, "kind": kind.value, "name": to_name, "public_url": self.public_url,
                  "unsubscribe_url": unsubscribe_url}
        # The text template's first line is the subject; the rest is the plain part.
        subject, _, text = self.env.get_template(f"{kind.value}.txt").render(values).partition("\n")
        html = self.env.get_template(f"{kind.value}.html").render(values)
        msg = EmailMessage(policy=POLICY)
        msg["From"] = self.sender
        msg["To"] = formataddr((to_name, to_email))
        msg["Subject"] = subject.strip()
        msg["Message-ID"] = make_msgid(domain=self.domain)
        if unsubscribe_url:
            # RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the URL.
            msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text.lstrip("\n"), cte="quoted-printable")
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        if ics is not None:
            msg.add_attachment(
                ics, maintype="text", subtype="calendar", filename="invite.ics", params={"method": ics_method}
            )
        return Composed(subject.strip(), msg.as_string())
