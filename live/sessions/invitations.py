"""Signed, session-scoped join tokens and the .ics invite that carries the link."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as IcsEvent
from icalendar.parser import Contentline
from itsdangerous import BadSignature, URLSafeSerializer

JOIN_SALT = "join"


@dataclass(frozen=True)
class JoinClaim:
    session_id: str
    contact_id: str


@lru_cache(maxsize=8)
def _join_serializer(secret: str) -> URLSafeSerializer:
    """One per key: making a serializer costs a quarter of signing a token (inviting 10,000 signs 10,000)."""
    return URLSafeSerializer(secret, salt=JOIN_SALT)


def make_join_token(secret: str, session_id: str, contact_id: str) -> str:
    # Deterministic for (session, contact): re-inviting returns the same link.
    return _join_serializer(secret).dumps({"s": session_id, "c": contact_id})


def read_join_token(secret: str, token: str) -> JoinClaim | None:
    if not token or len(token) > 300:
        return None
    try:
        data = _join_serializer(secret).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not isinstance(data.get("c"), str):
        return None
    return JoinClaim(session_id=data["s"], contact_id=data["c"])


def join_url(public_url: str, token: str) -> str:
    return f"{public_url}/join/{token}"


def ics_uid(session_id: str, contact_id: str) -> str:
    """Stable per session and contact, so an update or a cancel replaces the same calendar entry."""
    return f"{session_id}-{contact_id}@live"


def ics_invite(
    *,
    uid: str,
    title: str,
    starts_at: datetime,
    duration_minutes: int,
    url: str,
    organizer_email: str,
    organizer_name: str,
    attendee_email: str,
    attendee_name: str,
    description: str,
    sequence: int = 0,
    cancel: bool = False,
    stamp: datetime | None = None,
) -> bytes:
    """`METHOD:REQUEST` (or `CANCEL`); `sequence` goes up with each reschedule so calendars take the update."""
    cal = Calendar()
    cal.add("prodid", "-//live//live sessions//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancel else "REQUEST")
    event = IcsEvent()
    event.add("uid", uid)
    event.add("sequence", sequence)
    if cancel:
        event.add("status", "CANCELLED")
    event.add("summary", title)
    event.add("dtstart", starts_at)
    event.add("dtend", starts_at + timedelta(minutes=duration_minutes))
    event.add("dtstamp", stamp or starts_at)
    event.add("url", url)
    event.add("location", url)
    event.add("description", f"{description}\n\nJoin from your browser: {url}")
    organizer = vCalAddress(f"MAILTO:{organizer_email}")
    organizer.params["cn"] = vText(organizer_name)
    event["organizer"] = organizer
    event.add("attendee", _attendee(attendee_email, attendee_name), encode=False)
    cal.add_component(event)
    ical: bytes = cal.to_ical()  # icalendar leaves it unannotated
    return ical


def _attendee(email: str, name: str) -> vCalAddress:
    attendee = vCalAddress(f"MAILTO:{email}")
    attendee.params["cn"] = vText(name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    return attendee


# Stand-ins for the contact id (in the UID) and the join token (in the URL, location and description) in
# an `IcsTemplate`'s prototype. Both values are made of these characters only, which no iCalendar escaping
# or quoting touches, so each goes into the prototype's lines as it is.
_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")
_CONTACT, _TOKEN = "LIVEICSCONTACTX", "LIVEICSTOKENX"


class IcsTemplate:
    """`ics_invite` for everyone invited to one session: the calendar is made once with stand-ins, and each
    person's `.ics` is that text with their UID, link and ATTENDEE line put in (lines re-folded as
    `icalendar` folds them). The same bytes as `ics_invite` for that person (tests/mail/test_compose.py),
    at a fraction of its cost; a value the stand-ins cannot carry falls back to `ics_invite` itself."""

    def __init__(self, *, session_id: str, title: str, starts_at: datetime, duration_minutes: int,
                 public_url: str, organizer_email: str, organizer_name: str, description: str,
                 sequence: int = 0, cancel: bool = False, stamp: datetime | None = None) -> None:
        self.session_id, self.public_url = session_id, public_url
        self.invite = partial(ics_invite, title=title, starts_at=starts_at, duration_minutes=duration_minutes,
                              organizer_email=organizer_email, organizer_name=organizer_name,
                              description=description, sequence=sequence, cancel=cancel, stamp=stamp)
        prototype = self.invite(uid=ics_uid(session_id, _CONTACT), url=join_url(public_url, _TOKEN),
                                attendee_email="x@x", attendee_name="x")
        # Each unfolded content line, by what it needs per person: nothing (kept folded), the stand-ins
        # replaced (then folded), or the whole ATTENDEE line.
        self.lines: list[tuple[str, str]] = []
        for line in _UNFOLD.sub("", prototype.decode()).split("\r\n"):
            if not line:
                continue
            if line.startswith("ATTENDEE"):
                self.lines.append(("attendee", ""))
            elif _CONTACT in line or _TOKEN in line:
                self.lines.append(("fill", line))
            else:
                self.lines.append(("fixed", fold_ics_line(line)))

    def render(self, *, contact_id: str, token: str, attendee_email: str, attendee_name: str) -> bytes:
        if not (_PLAIN.fullmatch(contact_id) and _PLAIN.fullmatch(token)):
            return self.invite(uid=ics_uid(self.session_id, contact_id), url=join_url(self.public_url, token),
                               attendee_email=attendee_email, attendee_name=attendee_name)
        out = []
        for what, line in self.lines:
            if what == "fixed":
                out.append(line)
            elif what == "attendee":
                attendee = _attendee(attendee_email, attendee_name)
                out.append(fold_ics_line(Contentline.from_parts("ATTENDEE", attendee.params, attendee, sorted=True)))
            else:
                out.append(fold_ics_line(line.replace(_CONTACT, contact_id).replace(_TOKEN, token)))
        return ("\r\n".join(out) + "\r\n").encode()


def fold_ics_line(line: str) -> str:
    """A content line folded as `icalendar` folds it (lines under 75 octets, a continuation starts with a
    space, a backslash or caret escape is not split from what it escapes), without its character loop for
    the usual ASCII line; any other goes through `icalendar` itself."""
    if not line.isascii():
        content_line: Callable[[str], Any] = Contentline  # icalendar leaves it unannotated
        return str(content_line(line).to_ical().decode())
    pieces, start = [], 0
    while len(line) - start > _FOLD_AT:
        end = start + _FOLD_AT
        if line[end - 1] in "\\^":
            end -= 1
        pieces.append(line[start:end])
        start = end
    pieces.append(line[start:])
    return "\r\n ".join(pieces)


_FOLD_AT = 74  # characters of an ASCII line before a fold (icalendar folds before the 75th octet)
# A folded line's continuation: CRLF and one space or tab (RFC 5545 3.1).
_UNFOLD = re.compile(r"\r\n[ \t]")
