"""The mail rules as plain values: reminder offsets and when each is due, retries, SMTP URLs, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from live.errors import InvalidInput
from live.mail.model import (
    MAX_BACKOFF,
    MailKind,
    SmtpTarget,
    backoff,
    default_mail_from,
    due_reminder,
    offset_label,
    parse_reminders,
    reminder_wanted,
)
from live.settings import Settings

START = datetime(2030, 5, 4, 15, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_reminder_offsets_read_minutes_hours_and_days_largest_first() -> None:
    assert parse_reminders("1h, 24h,30m,2d") == (timedelta(days=2), 24 * H, H, timedelta(minutes=30))
    assert parse_reminders("") == ()
    assert [offset_label(o) for o in parse_reminders("24h,90m")] == ["1d", "90m"]


@pytest.mark.parametrize("raw", ["1w", "h", "0h", "24h,soon", "-1h"])
def test_a_bad_reminder_offset_is_refused_by_name(raw: str) -> None:
    with pytest.raises(InvalidInput, match="LIVE_REMINDERS"):
        parse_reminders(raw)


def test_the_due_reminder_is_the_smallest_whose_moment_came_and_none_after_the_start() -> None:
    offsets = (24 * H, H)
    assert due_reminder(offsets, START, START - 25 * H) is None
    assert due_reminder(offsets, START, START - 23 * H) == 24 * H
    assert due_reminder(offsets, START, START - timedelta(minutes=30)) == H  # down at 24 h: only the 1 h one
    assert due_reminder(offsets, START, START) is None
    assert due_reminder((), START, START - H) is None


def test_a_person_invited_after_a_reminders_moment_does_not_get_that_reminder() -> None:
    assert reminder_wanted(H, START, START - 2 * H)
    assert not reminder_wanted(H, START, START - timedelta(minutes=30))


def test_retries_back_off_doubling_up_to_half_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(40) == MAX_BACKOFF


def test_only_reminders_and_follow_ups_can_be_unsubscribed_from() -> None:
    assert {k for k in MailKind if k.unsubscribable} == {MailKind.REMINDER, MailKind.THANK_YOU, MailKind.MISSED_YOU}
    assert {k for k in MailKind if k.about_the_invitation} == {
        MailKind.INVITATION, MailKind.CONFIRMATION, MailKind.UPDATE, MailKind.CANCEL
    }


def test_smtp_urls_give_host_port_credentials_and_tls() -> None:
    plain = SmtpTarget.parse("smtp://mailer:s%40cret@mx.example.com:2525?starttls=off")
    assert (plain.host, plain.port, plain.username, plain.password) == ("mx.example.com", 2525, "mailer", "s@cret")
    assert plain.starttls is False and not plain.implicit_tls
    assert SmtpTarget.parse("smtp://mx.example.com").port == 25
    assert SmtpTarget.parse("smtp://mx.example.com").starttls is None  # when offered
    tls = SmtpTarget.parse("smtps://mx.example.com")
    assert tls.implicit_tls and tls.port == 465


def test_a_bad_smtp_url_stops_the_start_with_a_message_naming_it() -> None:
    with pytest.raises(InvalidInput, match="LIVE_SMTP_URL"):
        Settings.from_env({"LIVE_SMTP_URL": "http://mx.example.com", "LIVE_SECRET_KEY": "k"})
    with pytest.raises(InvalidInput, match="port"):
        SmtpTarget.parse("smtp://mx.example.com:abc")


def test_mail_settings_come_from_the_environment() -> None:
    settings = Settings.from_env({"LIVE_SECRET_KEY": "k", "LIVE_PUBLIC_URL": "https://live.example.com",
                                  "LIVE_REMINDERS": "", "LIVE_MAIL_DIR": "/srv/mail"})
    assert settings.sender == "live <noreply@live.example.com>" == default_mail_from("https://live.example.com")
    assert settings.reminders == () and str(settings.mail_path) == "/srv/mail" and settings.smtp_url is None
