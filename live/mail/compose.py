"""Renders one mail (subject, text and HTML parts from `web/templates/mail/`, an optional `.ics`) into RFC 5322 text.

Two ways in, one message out:
- `Composer.compose` renders both templates for one person;
- `Composer.batch` renders them once per session with markers where a person's own values go (name, join
  link, unsubscribe link), and `Batch.compose` only puts each person's values in: inviting 10,000 people
  then costs 10,000 string substitutions, not 20,000 template renders.

Either way the MIME text is filled into a skeleton the `email` package serialized once (`_Skeleton`), so the
bytes are those the package itself would write (tests/mail/test_compose.py holds both paths to that), at a
fraction of the cost of building and flattening a MIME tree per message.
"""

from __future__ import annotations

import quopri
import random
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from email import base64mime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import escape

from live.mail.model import MailKind

# CRLF line ends, as SMTP wants them.
POLICY = compat32.clone(linesep="\r\n")
# What `Message.as_string(policy=POLICY)` folds headers with (it passes maxheaderlen=0: no folding).
_FOLD = POLICY.clone(max_line_length=0)
TEMPLATES = Path(__file__).resolve().parent.parent.parent / "web" / "templates" / "mail"
_NEWLINES = re.compile(r"\r\n|\r|\n")


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


def _folded(name: str, value: str) -> str:
    """The header's value as the generator writes it (`Name: ` and the line end cut off).

    Without folding (maxheaderlen=0) a printable ASCII value comes out as it went in, which is every header
    here but a rare one (names are RFC 2047 encoded before this): those skip the `Header` machinery.
    """
    if value.isascii() and value.isprintable():
        return value
    return _FOLD.fold(name, value)[len(name) + 2 : -2]


def _quoted_printable(body: str) -> str:
    # Quoted-printable keeps the text readable in the raw message and lines short whatever the content.
    return _NEWLINES.sub("\r\n", quopri.encodestring(body.replace("\r\n", "\n").encode()).decode("ascii"))


def _base64(data: bytes) -> str:
    """What the generator writes for the email package's base64 body (76-character lines)."""
    return base64mime.body_encode(data, eol="\r\n")


def when_text(at: datetime) -> str:
    """`Tuesday 1 December 2026, 15:00 UTC`: unambiguous in any client; the .ics gives the local time."""
    return f"{at:%A} {at.day} {at:%B %Y, %H:%M} UTC"


# --- the MIME skeleton ------------------------------------------------------------------------------

_SLOT = re.compile(r"LIVESLOT([A-Z0-9]+)X")
# The generator's boundary: 15 "=", a random number of 19 digits, "==" (the same length every time).
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))


def _slot(name: str) -> str:
    return f"LIVESLOT{name}X"


def _boundary(text: str) -> str:
    """A boundary like the email package's own, checked against the parts as it checks them."""
    while True:
        boundary = f"==============={random.randrange(sys.maxsize):0{_BOUNDARY_WIDTH}d}=="
        if "--" + boundary not in text:
            return boundary


@cache
def _skeleton(sender: str, ics_method: str | None, unsubscribe: bool) -> tuple[str, ...]:
    """The message as the email package's classic MIME classes (compat32) write it, with a slot wherever one
    message differs from the next; `_fill` puts the values in. Alternating text and slot names."""

    def text_part(subtype: str) -> MIMEText:
        part = MIMEText("", subtype, "utf-8")
        part.replace_header("Content-Transfer-Encoding", "quoted-printable")
        part.set_payload(_slot(subtype.upper()))
        return part

    alternative = MIMEMultipart("alternative")
    alternative.attach(text_part("plain"))
    alternative.attach(text_part("html"))
    alternative.set_boundary(_slot("INNER"))
    if ics_method is None:
        msg: MIMEMultipart = alternative
    else:
        msg = MIMEMultipart("mixed")
        msg.attach(alternative)
        calendar = MIMEText("", "calendar", "utf-8")
        calendar.set_param("method", ics_method)
        calendar.add_header("Content-Disposition", "attachment", filename="invite.ics")
        calendar.set_payload(_slot("ICS"))
        msg.attach(calendar)
        msg.set_boundary(_slot("OUTER"))
    msg["From"] = _address(sender)
    msg["To"] = _slot("TO")
    msg["Subject"] = _slot("SUBJECT")
    msg["Message-ID"] = _slot("MSGID")
    if unsubscribe:
        # RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the URL.
        msg["List-Unsubscribe"] = _slot("UNSUB")
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return tuple(_SLOT.split(msg.as_string(policy=POLICY)))


def _fill(skeleton: tuple[str, ...], values: dict[str, str]) -> str:
    return "".join(piece if index % 2 == 0 else values[piece] for index, piece in enumerate(skeleton))


# --- composing --------------------------------------------------------------------------------------

# Where one person's values go in a batch's rendered templates: characters from Unicode's private use area,
# which no template writes and HTML escaping leaves alone.
_MARKS = {"name": "\ue000N\ue001", "join_url": "\ue000J\ue001", "unsubscribe_url": "\ue000U\ue001"}
_MARK = re.compile("\ue000([NJU])\ue001")


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

    def render(self, kind: MailKind, values: dict[str, Any]) -> tuple[str, str]:
        """The text template's output (its first line is the subject) and the HTML part."""
        text = self.env.get_template(f"{kind.value}.txt").render(values)
        return text, self.env.get_template(f"{kind.value}.html").render(values)

    def values(self, kind: MailKind, context: dict[str, Any], name: str, unsubscribe_url: str | None) -> dict[str, Any]:
        return {**context, "kind": kind.value, "name": name, "public_url": self.public_url,
                "unsubscribe_url": unsubscribe_url}

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
        text, html = self.render(kind, self.values(kind, context, to_name, unsubscribe_url))
        return self.assemble(text, html, to_email=to_email, to_name=to_name, ics=ics, ics_method=ics_method,
                             unsubscribe_url=unsubscribe_url)

    def batch(self, kind: MailKind, context: dict[str, Any], *, unsubscribe: bool) -> Batch:
        """The templates rendered once for everyone sharing `context` (one session, one kind of mail)."""
        marked = {**context, "join_url": _MARKS["join_url"]}
        text, html = self.render(kind, self.values(kind, marked, _MARKS["name"],
                                                   _MARKS["unsubscribe_url"] if unsubscribe else None))
        return Batch(self, kind, context, unsubscribe, text, html)

    def assemble(self, text: str, html: str, *, to_email: str, to_name: str, ics: bytes | None,
                 ics_method: str, unsubscribe_url: str | None) -> Composed:
        subject, _, body = text.partition("\n")
        subject = subject.strip()
        plain, rich = _quoted_printable(body.lstrip("\n")), _quoted_printable(html)
        values = {
            "PLAIN": plain,
            "HTML": rich,
            "TO": _folded("To", formataddr((to_name, to_email), charset="utf-8")),
            "SUBJECT": _folded("Subject", _header(subject)),
            "MSGID": _folded("Message-ID", make_msgid(domain=self.domain)),
        }
        parts = plain + rich
        if unsubscribe_url:
            values["UNSUB"] = _folded("List-Unsubscribe", f"<{unsubscribe_url}>")
        if ics is not None:
            values["ICS"] = _base64(ics)
            parts += values["ICS"]
        values["INNER"] = _boundary(parts)
        if ics is not None:
            values["OUTER"] = _boundary(parts + values["INNER"])
        skeleton = _skeleton(self.sender, ics_method if ics is not None else None, bool(unsubscribe_url))
        return Composed(subject, _fill(skeleton, values))


@dataclass
class Batch:
    """One session's mail of one kind, rendered once; `compose` puts in each person's own values.

    The first person's message is also rendered the slow way and compared: should a template ever make a
    person's value change more than its own spot (a condition on the name, say), the batch notices and
    renders every message in full instead of sending wrong ones.
    """

    composer: Composer
    kind: MailKind
    context: dict[str, Any]
    unsubscribe: bool
    text: str
    html: str
    exact: bool | None = field(default=None)  # None: not checked yet

    def _substituted(self, name: str, join_url: str, unsubscribe_url: str | None) -> tuple[str, str]:
        raw = {"N": name, "J": join_url, "U": unsubscribe_url or ""}
        escaped = {k: str(escape(v)) for k, v in raw.items()}
        return (_MARK.sub(lambda m: raw[m.group(1)], self.text),
                _MARK.sub(lambda m: escaped[m.group(1)], self.html))

    def compose(self, *, to_email: str, to_name: str, join_url: str, ics: bytes | None = None,
                ics_method: str = "REQUEST", unsubscribe_url: str | None = None) -> Composed:
        if bool(unsubscribe_url) != self.unsubscribe:
            raise ValueError("a batch's messages all carry an unsubscribe link, or none does")
        full = self.composer.values(self.kind, {**self.context, "join_url": join_url}, to_name, unsubscribe_url)
        if self.exact is None:
            self.exact = self._substituted(to_name, join_url, unsubscribe_url) == self.composer.render(self.kind, full)
        if self.exact:
            text, html = self._substituted(to_name, join_url, unsubscribe_url)
        else:
            text, html = self.composer.render(self.kind, full)
        return self.composer.assemble(text, html, to_email=to_email, to_name=to_name, ics=ics,
                                      ics_method=ics_method, unsubscribe_url=unsubscribe_url)
