"""Who may send or receive media through the server in which kind of session (pure rules)."""

from __future__ import annotations

from live.errors import Forbidden, LiveError
from live.rooms.model import STAFF, RoomRole
from live.sessions.model import SessionKind, SessionStatus


class WrongKind(LiveError):
    """Server media asked for in a session kind that does not use it."""

    code = "wrong_kind"
    status = 409


def check_forwarded(kind: str, event: str) -> None:
    """Server media exists only in webinars and welcome seminars."""
    if kind not in tuple(SessionKind) or not SessionKind(kind).broadcasts:
        raise WrongKind(
            f"'{event}' is for webinars and welcome seminars, not a {kind!r} session: "
            "one-on-ones are peer to peer, negotiate with 'rtc.signal'."
        )


def check_can_publish(kind: str, role: RoomRole, speaker: bool = False) -> None:
    """Hosts and co-hosts publish; an attendee only while a host has made them a speaker."""
    check_forwarded(kind, "media.publish")
    if role not in STAFF and not speaker:
        raise Forbidden(
            f"Only the host, a co-host or an invited speaker may publish media; you are {role.value!r}."
        )


def check_can_subscribe(kind: str) -> None:
    check_forwarded(kind, "media.subscribe")


def receives_published_tracks(role: RoomRole, status: str) -> bool:
    """Nobody in the audience sees or hears the hosts before they go live; staff do (their preview).

    Enforced by the server, which answers an attendee's `media.subscribe` with every m-line
    `inactive` until then: a page cannot cheat by showing the tracks it was sent.
    """
    return role in STAFF or status == SessionStatus.LIVE
