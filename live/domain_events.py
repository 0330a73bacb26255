"""What happens in the product, as typed events: published on `live.bus` after the database commit.

Each event names the thing it concerns by id only; a subscriber reads what it needs from the database,
so an event never carries a stale copy of a row. Subscribers are wired in one place, `live.app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SessionScheduled:
    session_id: str


@dataclass(frozen=True)
class SessionRescheduled:
    """Its time, length, title or host changed while still scheduled."""

    session_id: str


@dataclass(frozen=True)
class SessionCancelled:
    session_id: str


@dataclass(frozen=True)
class SessionStarted:
    session_id: str
    at: datetime


@dataclass(frozen=True)
class SessionEnded:
    session_id: str
    at: datetime


@dataclass(frozen=True)
class SpeakerStopped:
    """A speaker from the audience may no longer publish (revoked, declined, left): whichever media
    engine carries the session takes their tracks off it. Published and awaited by the speaker event's
    handler, so the tracks are gone before its ack."""

    session_id: str
    participant_id: str


@dataclass(frozen=True)
class SessionScored:
    """Attendance and scores of an ended session are stored and its accounts re-evaluated."""

    session_id: str


@dataclass(frozen=True)
class AccountCreated:
    account_id: str


@dataclass(frozen=True)
class ContactAdded:
    contact_id: str
    account_id: str


@dataclass(frozen=True)
class ContactInvited:
    """An invitation row exists; `resend` asks for the mail to go again even if it went before."""

    session_id: str
    contact_id: str
    resend: bool = False


@dataclass(frozen=True)
class ContactUninvited:
    session_id: str
    contact_id: str


@dataclass(frozen=True)
class AccountChanged:
    """A person changed an account's `field` (tier, phase, name, mrr...) from `old` to `new`. (The engine's own
    changes are announced by scoring, with the evidence behind them.)"""

    account_id: str
    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class OverrideReleased:
    """A manual override expired or was handed back; the engine owns `field` again."""

    account_id: str
    field: str


@dataclass(frozen=True)
class RecordingReady:
    recording_id: str
    session_id: str


@dataclass(frozen=True)
class RegistrationCreated:
    session_id: str
    contact_id: str


DomainEvent = (
    SessionScheduled
    | SessionRescheduled
    | SessionCancelled
    | SessionStarted
    | SessionEnded
    | SessionScored
    | SpeakerStopped
    | AccountCreated
    | ContactAdded
    | ContactInvited
    | ContactUninvited
    | AccountChanged
    | OverrideReleased
    | RecordingReady
    | RegistrationCreated
)
