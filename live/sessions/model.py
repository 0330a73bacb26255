"""Session kinds and the status machine that refuses illegal transitions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from live.errors import Conflict, InvalidInput


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

# A datetime-local field has minute precision: "now", typed, is up to a minute behind the clock.
PAST_START_GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class ScheduleWarning:
    """Something about a session that is allowed but probably not meant; shown, never blocking."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def schedule_warnings(
    kind: SessionKind, status: SessionStatus, starts_at: datetime, now: datetime, invited_accounts: Sequence[str]
) -> list[ScheduleWarning]:
    """The warnings for a session; `invited_accounts` names the account of each invited contact (repeats allowed)."""
    warnings: list[ScheduleWarning] = []
    if status is SessionStatus.SCHEDULED and starts_at < now - PAST_START_GRACE:
        warnings.append(
            ScheduleWarning(
                "start_in_past",
                # No time in the message: pages show the start in the viewer's zone right beside it.
                "The start is in the past: invitees would get a time that has gone by.",
            )
        )
    if kind is SessionKind.ONE_ON_ONE and status in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
        if not invited_accounts:
            warnings.append(
                ScheduleWarning("empty_one_on_one", "Nobody is invited to this one-on-one yet: invite a contact.")
            )
        accounts = sorted(set(invited_accounts))
        if len(accounts) > 1:
            warnings.append(
                ScheduleWarning(
                    "several_accounts",
                    f"This one-on-one invites contacts of {len(accounts)} accounts ({', '.join(accounts)}); "
                    "a one-on-one is usually with one account.",
                )
            )
    return warnings


def check_editable(status: str, title: str) -> None:
    """Only a session that has not started can be rescheduled or edited."""
    if status != SessionStatus.SCHEDULED:
        raise Conflict(f"Session {title!r} is {status}; only a scheduled session can be changed.", code="bad_status")


def check_cancellable(status: str, title: str) -> None:
    if status == SessionStatus.LIVE:
        raise Conflict(f"Session {title!r} is live; end it in the room instead of cancelling it.", code="live")
    if status != SessionStatus.SCHEDULED:
        raise Conflict(f"Session {title!r} is {status}; only a scheduled session can be cancelled.", code="bad_status")


def check_room_empty(title: str, present: int) -> None:
    """A session cannot be dropped (or cancelled) while people are in its room: their chat, votes and
    presence would have no session to belong to. The host ends it first, or they leave."""
    if present:
        people = "1 person is" if present == 1 else f"{present} people are"
        raise Conflict(
            f"Session {title!r} cannot be deleted while {people} in its room; end it or wait until they leave.",
            code="room_not_empty",
        )


# Going live more than this long before the scheduled start asks the host to confirm: a session run a
# day early is not the session people were invited to (its invitees are not no-shows, see
# live/engagement/report.py), and it is usually a click on the wrong session.
EARLY_START = timedelta(minutes=15)


def check_start_time(starts_at: datetime, now: datetime, force: bool) -> None:
    """Refuses (code "early") a start more than `EARLY_START` before the schedule unless `force`."""
    ahead = starts_at - now
    if force or ahead <= EARLY_START:
        return
    minutes = ahead.total_seconds() / 60
    when = f"{minutes / 60 / 24:.1f} days" if minutes >= 48 * 60 else (
        f"{minutes / 60:.1f} hours" if minutes >= 120 else f"{minutes:.0f} minutes"
    )
    raise Conflict(
        f"This session is scheduled for {starts_at.isoformat()}, {when} from now. Going live this early: "
        f"send again with force to confirm.",
        code="early",
    )


# Working hours of a CSM, in their own zone: where proposed check-ins may go.
WORK_START = time(9, 0)
WORK_END = time(17, 0)
WORK_DAYS = frozenset(range(5))  # Monday to Friday
SLOT_STEP = timedelta(minutes=30)
# How far ahead to look for a free slot before giving up (a CSM booked solid for a quarter).
SLOT_HORIZON = timedelta(days=90)


def zone_of(name: str | None) -> ZoneInfo:
    """A staff member's zone (None: UTC); an unknown name is refused, naming it."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Time zone {name!r} is unknown; use an IANA name such as 'Europe/Berlin'.") from exc


def free_slot(
    busy: Iterable[tuple[datetime, datetime]], zone: ZoneInfo, after: datetime, minutes: int
) -> datetime | None:
    """The first `minutes`-long slot starting at or after `after`, on the half hour, inside working
    hours (Mon-Fri 09:00-17:00 in `zone`) and overlapping none of the `busy` intervals; None within
    `SLOT_HORIZON`. Pure: the caller passes the CSM's sessions (proposed check-ins included)."""
    taken = sorted(busy)
    length = timedelta(minutes=minutes)
    local = after.astimezone(zone)
    day = local.date()
    while datetime.combine(day, WORK_START, zone) <= local + SLOT_HORIZON:
        if day.weekday() in WORK_DAYS:
            start = datetime.combine(day, WORK_START, zone)
            close = datetime.combine(day, WORK_END, zone)
            while start + length <= close:
                end = start + length
                if start >= after and not any(a < end and start < b for a, b in taken):
                    return start
                start += SLOT_STEP
        day += timedelta(days=1)
    return None
