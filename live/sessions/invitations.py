"""Signed, session-scoped join tokens and the .ics invite that carries the link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as IcsEvent
from itsdangerous import BadSignature, URLSafeSerializer

JOIN_SALT = "join"


@dataclass(frozen=True)
class JoinClaim:
    session_id: str
    contact_id: str


def make_join_token(secret: str, session_id: str, contact_id: str) -> str:
    # Deterministic for (session, contact): re-inviting returns the same link.
    return URLSafeSerializer(secret, salt=JOIN_SALT).dumps({"s": session_id, "c": contact_id})


def read_join_token(secret: str, token: str) -> JoinClaim | None:
    if not token or len(token) > 300:
        return None
    try:
        data = URLSafeSerializer(secret, salt=JOIN_SALT).loads(token)
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
    attendee = vCalAddress(f"MAILTO:{attendee_email}")
    attendee.params["cn"] = vText(attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    ical: bytes = cal.to_ical()  # icalendar leaves it unannotated
    return ical
