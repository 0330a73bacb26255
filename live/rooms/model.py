"""Room roles, participants, per-event permission checks and the attendee rate limiter (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from live.errors import Conflict, Forbidden, RateLimited


class RoomRole(StrEnum):
    HOST = "host"
    CO_HOST = "co_host"
    ATTENDEE = "attendee"

    @property
    def is_staff(self) -> bool:
        return self is not RoomRole.ATTENDEE


STAFF = frozenset({RoomRole.HOST, RoomRole.CO_HOST})
EVERYONE = frozenset(RoomRole)
ATTENDEES = frozenset({RoomRole.ATTENDEE})


def contact_participant_id(contact_id: str) -> str:
    return f"c_{contact_id}"


def user_participant_id(user_id: str) -> str:
    return f"u_{user_id}"


def is_staff_id(participant_id: str) -> bool:
    """Staff join as users (`u_…`), the audience as contacts (`c_…`)."""
    return participant_id.startswith("u_")


def role_for_staff(user_id: str, host_id: str) -> RoomRole:
    """The session's own host is `host`; any other staff member who opens the room is a co-host."""
    return RoomRole.HOST if user_id == host_id else RoomRole.CO_HOST


@dataclass(frozen=True)
class Participant:
    """One person in one session; every connection (tab, reconnect) of that person shares it."""

    session_id: str
    participant_id: str
    role: RoomRole
    name: str
    contact_id: str | None = None
    user_id: str | None = None

    def public(self) -> dict[str, str]:
        return {"participant_id": self.participant_id, "name": self.name, "role": self.role.value}

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "participant_id": self.participant_id,
            "role": self.role.value,
            "name": self.name,
            "contact_id": self.contact_id,
            "user_id": self.user_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Participant:
        return cls(
            session_id=str(data["session_id"]),
            participant_id=str(data["participant_id"]),
            role=RoomRole(data["role"]),
            name=str(data["name"]),
            contact_id=data.get("contact_id"),
            user_id=data.get("user_id"),
        )


def one_on_one_can_start(people: Iterable[Participant]) -> bool:
    """A one-on-one goes live by itself once a staff member (the CSM) and a contact are both in."""
    roles = {p.role for p in people}
    return bool(roles & STAFF) and RoomRole.ATTENDEE in roles


def check_role(role: RoomRole, allowed: Iterable[RoomRole], event: str) -> None:
    allowed = frozenset(allowed)
    if role not in allowed:
        who = " or ".join(sorted(r.value for r in allowed))
        raise Forbidden(f"'{event}' is for the {who}; you are the {role.value}.")


def check_status(status: str, allowed: Iterable[str], event: str) -> None:
    """Refuses an event the session's status does not allow (e.g. chat once the session has ended)."""
    allowed = frozenset(allowed)
    if status not in allowed:
        raise Conflict(
            f"'{event}' is not possible while the session is '{status}'.",
            code="session_ended" if status == "ended" else "bad_status",
        )


@dataclass
class TokenBucket:
    """A burst of `capacity` events, refilled at `rate` per second (time is passed in: pure and testable)."""

    capacity: float
    rate: float
    tokens: float = field(default=-1.0)
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def take(self, now: float, cost: float = 1.0) -> bool:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        missing = max(0.0, cost - self.tokens)
        return missing / self.rate if self.rate > 0 else float("inf")


class RateKind(StrEnum):
    """Every client event has one (the registry insists): what an attendee may send how fast. Each kind is one
    token bucket per person, shared by that person's tabs, reconnects and processes."""

    CHAT = "chat"  # chat messages, questions and upvotes: fanned out to everyone, kept in the log
    REACTION = "reaction"  # reactions: fanned out to everyone
    SIGNAL = "signal"  # hand, focus, camera/mic state: small state changes, each logged
    RTC = "rtc"  # SDP offers and ICE candidates (`rtc.signal`, `media.*`): a trickle of candidates at once
    VOTE = "vote"  # poll votes (a re-vote replaces the last one)
    QUERY = "query"  # reads that page through what `room.state` leaves out (`qa.list`)
    STAFF_ONLY = "staff_only"  # events only hosts and co-hosts may send: never limited


@dataclass(frozen=True)
class RateLimit:
    burst: int
    rate: float


def rate_limited(kind: RateKind, limit: RateLimit, wait: float) -> RateLimited:
    return RateLimited(
        f"Too many {kind.value} events: at most {limit.burst} at once and {limit.rate:g} a second; "
        f"try again in {max(wait, 0.1):.1f} s.",
    )


def check_rate_kind(event: str, roles: Iterable[RoomRole], kind: RateKind) -> None:
    """Refuses at start-up an event attendees may send without a limit of their own."""
    if kind is RateKind.STAFF_ONLY and any(not role.is_staff for role in roles):
        raise ValueError(f"Socket.IO event {event!r} is open to attendees: give it a rate kind other than staff_only.")


@dataclass(frozen=True)
class MediaState:
    """What a person says they publish (`media.state`); shown beside them in `room.state`."""

    camera: bool
    mic: bool

    def to_dict(self) -> dict[str, bool]:
        return {"camera": self.camera, "mic": self.mic}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaState:
        return cls(camera=bool(data.get("camera")), mic=bool(data.get("mic")))
