"""Session kinds and the status machine that refuses illegal transitions."""

from __future__ import annotations

from enum import StrEnum

from live.errors import Conflict


class SessionKind(StrEnum):
    WEBINAR = "webinar"
    WELCOME_SEMINAR = "welcome_seminar"
    ONE_ON_ONE = "one_on_one"

    @property
    def broadcasts(self) -> bool:
        """Webinars and welcome seminars publish to the server; one-on-ones go peer to peer."""
        return self is not SessionKind.ONE_ON_ONE


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    # Called off before it started: kept (with its invitations) so links and reports can say so.
    CANCELLED = "cancelled"

    def transition(self, to: SessionStatus) -> SessionStatus:
        allowed = {
            SessionStatus.SCHEDULED: {SessionStatus.LIVE, SessionStatus.CANCELLED},
            SessionStatus.LIVE: {SessionStatus.ENDED},
        }
        if to not in allowed.get(self, set()):
            raise Conflict(f"Session is '{self.value}' and cannot become '{to.value}'.", code="bad_status")
        return to


# One-on-ones are a CSM and an account's people: 2-6 in all, as the design says.
ONE_ON_ONE_MAX_PEOPLE = 6


def check_editable(status: str, title: str) -> None:
    """Only a session that has not started can be rescheduled or edited."""
    if status != SessionStatus.SCHEDULED:
        raise Conflict(f"Session {title!r} is {status}; only a scheduled session can be changed.", code="bad_status")


def check_cancellable(status: str, title: str) -> None:
    if status == SessionStatus.LIVE:
        raise Conflict(f"Session {title!r} is live; end it in the room instead of cancelling it.", code="live")
    if status != SessionStatus.SCHEDULED:
        raise Conflict(f"Session {title!r} is {status}; only a scheduled session can be cancelled.", code="bad_status")
