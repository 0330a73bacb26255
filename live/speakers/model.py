"""Who may be made a speaker, who may answer an invitation, and who may publish server media then (pure rules)."""

from __future__ import annotations

from live.errors import Forbidden, InvalidInput, LiveError
from live.rooms.model import STAFF, RoomRole
from live.sessions.model import SessionKind


class NotInvited(LiveError):
    """`speaker.accept` / `speaker.decline` from someone with no invitation waiting (never sent, or revoked)."""

    code = "not_invited"
    status = 409


def _check_kind(kind: str) -> None:
    if kind not in tuple(SessionKind) or not SessionKind(kind).broadcasts:
        raise InvalidInput(f"Everyone already speaks in a {kind!r} session; speakers are for webinars.", code="wrong_kind")


def check_can_invite(kind: str, role: RoomRole, target_role: RoomRole) -> None:
    if role not in STAFF:
        raise Forbidden(f"Only the host or a co-host may invite or revoke speakers; you are {role.value!r}.")
    _check_kind(kind)
    if target_role is not RoomRole.ATTENDEE:
        raise InvalidInput(f"A {target_role.value!r} already publishes; only attendees are invited to speak.")


def check_can_answer(kind: str, role: RoomRole, invited: bool) -> None:
    """An attendee answers an invitation of their own: accepting starts their speaking, declining ends it."""
    if role in STAFF:
        raise Forbidden(f"A {role.value!r} publishes already; only an invited attendee accepts or declines.")
    _check_kind(kind)
    if not invited:
        raise NotInvited("Nobody has invited you to speak (or the host withdrew the invitation).")


def may_publish(role: RoomRole, speaker: bool) -> bool:
    """Hosts and co-hosts publish; an attendee only while they are a speaker."""
    return role in STAFF or speaker
