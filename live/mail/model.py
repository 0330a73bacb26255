"""What mail is sent and when, as pure rules: kinds, states, reminder offsets, retry schedule, SMTP targets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qs, unquote, urlsplit

from live.errors import InvalidInput


class MailKind(StrEnum):
    INVITATION = "invitation"
    CONFIRMATION = "confirmation"  # a self-registration's invitation
    UPDATE = "update"  # the session was rescheduled
    CANCEL = "cancel"  # the session was cancelled, or the person un-invited
    REMINDER = "reminder"
    THANK_YOU = "thank_you"
    MISSED_YOU = "missed_you"

    @property
    def about_the_invitation(self) -> bool:
        """Its state is the invitation's `email_status` on the session page and in the API."""
        return self in INVITATION_KINDS

    @property
    def unsubscribable(self) -> bool:
        """Reminders and follow-ups carry List-Unsubscribe and stop after an opt-out; invitations always go."""
        return self in OPTIONAL_KINDS


INVITATION_KINDS = frozenset({MailKind.INVITATION, MailKind.CONFIRMATION, MailKind.UPDATE, MailKind.CANCEL})
OPTIONAL_KINDS = frozenset({MailKind.REMINDER, MailKind.THANK_YOU, MailKind.MISSED_YOU})


class MailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


# Attempts after the first are spaced 1 s, 2 s, 4 s ... capped at 30 minutes; after 10 the message is failed
# (about two hours of trying: an SMTP relay down for a maintenance window does not lose mail).
MAX_ATTEMPTS = 10
MAX_BACKOFF = timedelta(minutes=30)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


_OFFSET = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_reminders(raw: str) -> tuple[timedelta, ...]:
    """`"24h,1h"` -> (24 h, 1 h), largest first; empty means no reminders. Bad parts are refused by name."""
    offsets = []
    for part in raw.split(","):
        if not part.strip():
            continue
        match = _OFFSET.match(part)
        if match is None or int(match.group(1)) == 0:
            raise InvalidInput(
                f"Config 'LIVE_REMINDERS' has value {raw!r}. {part.strip()!r} is not an offset like '30m', '24h' or '2d'."
            )
        offsets.append(timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}))
    return tuple(sorted(set(offsets), reverse=True))


def offset_label(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def due_reminder(offsets: tuple[timedelta, ...], starts_at: datetime, now: datetime) -> timedelta | None:
    """The reminder due now for a session: the smallest offset whose time has come, never after the start.

    Only the smallest: a process that was down through the 24 h mark and is back an hour before sends the
    1 h reminder, not both.
    """
    if now >= starts_at:
        return None
    due = [o for o in offsets if starts_at - o <= now]
    return min(due) if due else None


def reminder_wanted(offset: timedelta, starts_at: datetime, invited_at: datetime) -> bool:
    """A person invited after an offset's moment has just had the invitation: that reminder would repeat it."""
    return invited_at < starts_at - offset


@dataclass(frozen=True)
class SmtpTarget:
    """Where `LIVE_SMTP_URL` points: `smtp://[user:pass@]host:port[?starttls=off]` or `smtps://…`."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool | None = None  # None: when the server offers it

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise InvalidInput(
                f"Config 'LIVE_SMTP_URL' has value {url!r}. Expected smtp://[user:pass@]host:port or smtps://…"
            )
        try:
            port = parts.port
        except ValueError as exc:
            raise InvalidInput(f"Config 'LIVE_SMTP_URL' has value {url!r}. The port is not a number.") from exc
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls: bool | None = None
        if query.get("starttls", [""])[0].lower() in ("off", "false", "0", "no"):
            starttls = False
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=False if implicit else starttls,
        )


def default_mail_from(public_url: str) -> str:
    host = urlsplit(public_url).hostname or "localhost"
    return f"live <noreply@{host}>"
