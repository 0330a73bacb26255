"""Proposed check-ins go to free slots of the CSM's working hours, in the CSM's zone, never two at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from live.auth.store import create_user
from live.db.engine import create_engine, session_factory
from live.db.tables import Account
from live.engagement.automations import propose_check_in
from live.errors import InvalidInput
from live.sessions.model import free_slot, zone_of

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def in_working_hours(start: datetime, minutes: int, zone: ZoneInfo) -> bool:
    local, end = start.astimezone(zone), (start + timedelta(minutes=minutes)).astimezone(zone)
    return local.weekday() < 5 and local.hour >= 9 and (end.hour, end.minute) <= (17, 0) and local.date() == end.date()


def test_the_first_slot_is_nine_in_the_morning_in_the_csms_zone() -> None:
    slot = free_slot([], BERLIN, MONDAY, 30)
    assert slot is not None and slot.astimezone(BERLIN).hour == 9 and slot.astimezone(BERLIN).weekday() == 0


def test_a_slot_skips_the_weekend_and_the_csms_sessions() -> None:
    friday_evening = datetime(2026, 12, 4, 16, 45, tzinfo=BERLIN)
    busy = [(datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN), datetime(2026, 12, 7, 10, 15, tzinfo=BERLIN))]
    assert free_slot(busy, BERLIN, friday_evening, 30) == datetime(2026, 12, 7, 10, 30, tzinfo=BERLIN)


def test_an_unknown_zone_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match="Mars/Olympus"):
        zone_of("Mars/Olympus")
    assert zone_of(None) == ZoneInfo("UTC")


@settings(max_examples=100, deadline=None)
@given(
    busy=st.lists(st.tuples(st.integers(0, 14 * 48), st.integers(1, 6)), max_size=30),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]),
    offset=st.integers(0, 7 * 48),
)
def test_a_slot_is_free_in_working_hours_and_the_earliest_such(
    busy: list[tuple[int, int]], zone: str, offset: int
) -> None:
    tz = ZoneInfo(zone)
    half = timedelta(minutes=30)
    intervals = [(MONDAY + n * half, MONDAY + (n + k) * half) for n, k in busy]
    after = MONDAY + offset * half
    slot = free_slot(intervals, tz, after, 30)
    assert slot is not None and slot >= after
    assert in_working_hours(slot, 30, tz)
    assert not any(a < slot + half and slot < b for a, b in intervals)
    # No earlier half-hour start on the grid was free.
    earlier = after
    while earlier < slot:
        if earlier.astimezone(tz).minute in (0, 30) and in_working_hours(earlier, 30, tz):
            assert any(a < earlier + half and earlier < b for a, b in intervals)
        earlier += timedelta(minutes=15)


async def test_two_accounts_turning_at_risk_get_check_ins_at_different_free_times(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with session_factory(engine)() as db:
            csm = await create_user(db, "csm@example.com", "csm", "correct horse 1", timezone="Europe/Berlin")
            accounts = [
                Account(name=f"Account {n}", plan="pro", mrr=500.0, ltv=20_000.0, tier="tech", csm_email=csm.email)
                for n in range(3)
            ]
            db.add_all(accounts)
            await db.flush()
            made = [await propose_check_in(db, "secret", account, MONDAY) for account in accounts]
            await db.commit()
    finally:
        await engine.dispose()
    starts = sorted(s.starts_at for s in made if s is not None)
    assert len(starts) == 3
    assert all(b - a >= timedelta(minutes=30) for a, b in pairwise(starts))
    assert all(in_working_hours(s, 30, BERLIN) for s in starts)
