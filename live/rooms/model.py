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
    CHAT = "chat"  # chat messages, questions and upvotes
    REACTION = "reaction"


@dataclass(frozen=True)
class RateLimit:
    burst: int
    rate: float


class RateLimiter:
    """Token buckets per (participant, kind); staff are never limited."""

    def __init__(self, limits: dict[RateKind, RateLimit]) -> None:
        self._limits = limits
        self._buckets: dict[tuple[str, RateKind], TokenBucket] = {}

    def check(self, participant_id: str, role: RoomRole, kind: RateKind, now: float) -> None:
        if role.is_staff:
            return
        limit = self._limits[kind]
        key = (participant_id, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(capacity=limit.burst, rate=limit.rate, updated=now)
        if not bucket.take(now):
            raise RateLimited(
                f"Too many {kind.value} events: at most {limit.burst} at once and {limit.rate:g} a second; "
                f"try again in {bucket.retry_after():.1f} s.",
            )

    def forget(self, participant_id: str) -> None:
        for key in [k for k in self._buckets if k[0] == participant_id]:
            del self._buckets[key]
