"""Who receives the published tracks when, with plain values."""

from __future__ import annotations

from live.media.model import receives_published_tracks
from live.rooms.model import RoomRole


def test_the_audience_receives_the_hosts_tracks_only_once_the_session_is_live() -> None:
    assert not receives_published_tracks(RoomRole.ATTENDEE, "scheduled")
    assert receives_published_tracks(RoomRole.ATTENDEE, "live")


def test_staff_receive_a_preview_before_going_live() -> None:
    for role in (RoomRole.HOST, RoomRole.CO_HOST):
        assert receives_published_tracks(role, "scheduled")
        assert receives_published_tracks(role, "live")
