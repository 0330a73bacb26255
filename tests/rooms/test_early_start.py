"""Going live far ahead of the schedule asks the host to confirm: `session.start` with `{force: true}`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from live.errors import Conflict
from live.sessions.model import check_start_time
from tests.conftest import LiveServer, StaffMember
from tests.rooms.conftest import Connector
from tests.rooms.support import make_room

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_a_start_up_to_15_minutes_early_needs_no_confirmation() -> None:
    check_start_time(NOW + timedelta(minutes=15), NOW, force=False)
    check_start_time(NOW - timedelta(hours=3), NOW, force=False)


def test_a_start_more_than_15_minutes_early_is_refused_with_code_early_naming_the_schedule() -> None:
    starts_at = NOW + timedelta(days=1)
    with pytest.raises(Conflict) as refused:
        check_start_time(starts_at, NOW, force=False)
    assert refused.value.code == "early"
    assert starts_at.isoformat() in refused.value.message and "24.0 hours" in refused.value.message


def test_force_confirms_an_early_start() -> None:
    check_start_time(NOW + timedelta(days=1), NOW, force=True)


async def test_the_host_going_live_a_day_early_is_asked_to_confirm_and_force_starts_it(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Connector
) -> None:
    room = await make_room(
        sqlite_server.settings.database_url,
        sqlite_server.settings.secret_key,
        sqlite_staff["host"].id,
        starts_in=timedelta(days=1),
    )
    host = await join(sqlite_staff["host"].token, room.session_id)
    guest = await join(room.guests[0].token, room.session_id)

    refused = await host.call("session.start", {})
    assert refused["ok"] is False and refused["error"]["code"] == "early"
    assert "force" in refused["error"]["message"]
    still = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}", sqlite_staff["host"].token)
    assert still.body["status"] == "scheduled"

    started = await host.call("session.start", {"force": True})
    assert started["ok"] is True
    assert (await guest.next("session.started"))["id"] == room.session_id


async def test_force_must_be_a_boolean(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], join: Connector
) -> None:
    room = await make_room(
        sqlite_server.settings.database_url, sqlite_server.settings.secret_key, sqlite_staff["host"].id
    )
    host = await join(sqlite_staff["host"].token, room.session_id)
    ack = await host.call("session.start", {"force": "yes"})
    assert ack["ok"] is False and "force" in ack["error"]["message"]
