"""Renders one mail (subject, text and HTML parts from `web/templates/mail/`, an optional `.ics`) into RFC 5322 text."""

from __future__ import annotations

import quopri
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from live.mail.model import MailKind

# CRLF line ends, as SMTP wants them.
POLICY = compat32.clone(linesep="\r\n")
TEMPLATES = Path(__file__).resolve().parent.parent.parent / "web" / "templates" / "mail"


@dataclass(frozen=True)
class Composed:
    subject: str
    # The message without its Date header, which the sender stamps (see `stamped`).
    message: str


def stamped(message: str, at: datetime) -> str:
    """The stored message with the Date of its sending in front: RFC 5322 wants the moment it left."""
    return f"Date: {format_datetime(at)}\r\n{message}"


def _header(value: str) -> str:
    """A header as is when ASCII, else RFC 2047 encoded (a subject naming "Café Müller")."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def _address(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8")


def _text(body: str, subtype: str) -> MIMEText:
    part = MIMEText("", subtype, "utf-8")
    # Quoted-printable keeps the text readable in the raw message and lines short whatever the content.
    part.replace_header("Content-Transfer-Encoding", "quoted-printable")
    part.set_payload(quopri.encodestring(body.replace("\r\n", "\n").encode()).decode("ascii"))
    return part


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
        # The email package's classic MIME classes (compat32): the modern EmailMessage API parses every header
        # into objects and took ~10x longer, which is most of inviting 10,000 people.
        alternative = MIMEMultipart("alternative")
        alternative.attach(_text(text.lstrip("\n"), "plain"))
        alternative.attach(_text(html, "html"))
        if ics is None:
            msg: MIMEMultipart = alternative
        else:
            msg = MIMEMultipart("mixed")
            msg.attach(alternative)
            calendar = MIMEText(ics.decode(), "calendar", "utf-8")
            calendar.set_param("method", ics_method)
            calendar.add_header("Content-Disposition", "attachment", filename="invite.ics")
            msg.attach(calendar)
        msg["From"] = _address(self.sender)
        msg["To"] = formataddr((to_name, to_email), charset="utf-8")
        msg["Subject"] = _header(subject.strip())
        msg["Message-ID"] = make_msgid(domain=self.domain)
        if unsubscribe_url:
            # RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the URL.
            msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return Composed(subject.strip(), msg.as_string(policy=POLICY))
