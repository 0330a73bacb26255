"""Who may be made a speaker, and who may publish server media then (pure rules)."""

from __future__ import annotations

from live.errors import Forbidden, InvalidInput
from live.rooms.model import STAFF, RoomRole
from live.sessions.model import SessionKind


def check_can_invite(kind: str, role: RoomRole, target_role: RoomRole) -> None:
    if role not in STAFF:
        raise Forbidden(f"Only the host or a co-host may invite or revoke speakers; you are {role.value!r}.")
    if kind not in tuple(SessionKind) or not SessionKind(kind).broadcasts:
        raise InvalidInput(f"Everyone already speaks in a {kind!r} session; speakers are for webinars.", code="wrong_kind")
    if target_role is not RoomRole.ATTENDEE:
        raise InvalidInput(f"A {target_role.value!r} already publishes; only attendees are invited to speak.")


def may_publish(role: RoomRole, speaker: bool) -> bool:
    """Hosts and co-hosts publish; an attendee only while they are a speaker."""
    return role in STAFF or speaker
