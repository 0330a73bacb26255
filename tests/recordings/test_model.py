"""The pure rules of recordings: the recorded timeline, VP8 sizes, chapters, replay progress and its score."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live.errors import Forbidden
from live.recordings.model import (
    Chapter,
    NotRecordable,
    Timeline,
    Viewing,
    advance,
    chapters_vtt,
    check_can_delete,
    check_can_record,
    expired,
    on_demand_score,
    vp8_dimensions,
    watched_replay,
)
from live.rooms.model import RoomRole

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=2**32 - 1), st.floats(min_value=0, max_value=3600)),
        min_size=1,
        max_size=200,
    )
)
def test_recorded_timestamps_always_increase_whatever_the_sources_send(frames: list[tuple[int, float]]) -> None:
    timeline = Timeline(90_000)
    placed = [timeline.place(source, wall) for source, wall in sorted(frames, key=lambda f: f[1])]
    # At least a millisecond apart: WebM keeps milliseconds, and two frames at one time break players.
    assert all(b - a >= 90 for a, b in itertools.pairwise(placed))


def test_a_burst_after_a_late_first_frame_keeps_its_spacing_and_never_goes_back_in_time() -> None:
    # Opus, 20 ms frames: the first arrives 0.8 s late (a stalled loop), the next 49 right behind it.
    timeline = Timeline(48_000)
    burst = [timeline.place(960 * n, 1.0 + 0.001 * n) for n in range(50)]
    assert [b - a for a, b in itertools.pairwise(burst)] == [960] * 49
    # Then on time again: still the RTP pace, never squeezed back towards the wall clock.
    after = [timeline.place(960 * n, 0.2 + 0.02 * n) for n in range(50, 100)]
    assert [b - a for a, b in itertools.pairwise([burst[-1], *after])] == [960] * 50
    assert timeline.reanchored == 0


def test_a_track_follows_its_rtp_clock_and_a_restart_is_placed_at_the_wall_clock() -> None:
    timeline = Timeline(90_000)
    # The first frame lands where the wall clock says (0.5 s in), the next ones one frame apart.
    assert timeline.place(1_000_000, 0.5) == 45_000
    assert timeline.place(1_003_000, 0.54) == 48_000
    # Jitter of a few tens of milliseconds keeps the RTP spacing.
    assert timeline.place(1_006_000, 0.60) == 51_000
    # The publisher restarts: a new random RTP clock, 3 s later on the wall. It lands at 3.6 s, not 0.6 s.
    assert timeline.place(77, 3.6) == 324_000
    assert timeline.place(3077, 3.63) == 327_000
    assert timeline.reanchored == 1


def test_a_late_first_frame_never_squeezes_the_frames_behind_it() -> None:
    """A stall: the first frame arrives 0.6 s late and the 17 behind it at once; then frames flow on time.

    Snapping back to the wall clock would place the frames behind it closer together than the publisher
    sent them (1/90,000 s apart at worst), which ffmpeg decoding the file reports as non-increasing
    timestamps; slowing down to catch up does the same at the file's frame rate. The track keeps the
    publisher's spacing instead, as late as its first frame was."""
    timeline = Timeline(90_000)
    placed = [timeline.place(3000 * k, max(0.6, k / 30 + 0.02)) for k in range(90)]
    assert placed[0] == 54_000  # where the first frame arrived: 0.6 s
    assert [b - a for a, b in itertools.pairwise(placed)] == [3000] * 89  # one frame apart, always
    # A new RTP clock (a restart) while the track is ahead: right after its last frame (never back in time)...
    restart = timeline.place(77, 3.5)
    assert restart == placed[-1] + 90 and timeline.place(3077, 3.53) == restart + 3000
    # ...and once the wall clock has passed the track (the publisher paused), it is placed at the wall again.
    assert timeline.place(3077 + 3000 * 200, 30.0) == 2_700_000
    assert timeline.reanchored == 1


def test_the_picture_size_is_read_from_a_vp8_keyframe_only() -> None:
    # Frame tag (keyframe bit 0), start code 9d 01 2a, then 640 and 480 little-endian (scale bits zero).
    keyframe = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]) + (640).to_bytes(2, "little") + (480).to_bytes(2, "little")
    assert vp8_dimensions(keyframe) == (640, 480)
    assert vp8_dimensions(bytes([0x11]) + keyframe[1:]) is None  # an inter frame
    assert vp8_dimensions(keyframe[:8]) is None


def test_chapters_run_from_each_poll_or_question_to_the_next_and_are_plain_text() -> None:
    vtt = chapters_vtt(
        [
            Chapter(T0 + timedelta(seconds=90), "Question: <b>pricing</b> & --> tiers?"),
            Chapter(T0 + timedelta(seconds=5), "Poll: Which plan?"),
            Chapter(T0 - timedelta(seconds=5), "before the recording"),
            Chapter(T0 + timedelta(seconds=500), "after the recording"),
        ],
        T0,
        120.0,
    )
    assert vtt == (
        "WEBVTT\n\n"
        "1\n00:00:05.000 --> 00:01:30.000\nPoll: Which plan?\n\n"
        "2\n00:01:30.000 --> 00:02:00.000\nQuestion: &lt;b&gt;pricing&lt;/b&gt; &amp; -&gt; tiers?\n"
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_only_what_was_played_in_real_time_counts_as_watched_and_only_once() -> None:
    viewing = advance(Viewing(), 0, True, at(0), 600)
    viewing = advance(viewing, 15, True, at(15), 600)
    assert viewing.seconds == 15
    # A seek ahead is not watching; playing on from there is.
    viewing = advance(viewing, 300, True, at(16), 600)
    viewing = advance(viewing, 310, False, at(26), 600)
    assert viewing.seconds == 25
    # Paused for a while, then played on: the pause is not counted.
    viewing = advance(viewing, 310, True, at(200), 600)
    viewing = advance(viewing, 320, True, at(210), 600)
    assert viewing.seconds == 35
    # Watching the start again adds nothing.
    viewing = advance(viewing, 0, True, at(211), 600)
    viewing = advance(viewing, 10, True, at(221), 600)
    assert viewing.seconds == 35
    # A jump far past the end is a seek, even though the position is clamped to the end.
    viewing = advance(viewing, 9_999, False, at(222), 600)
    assert viewing.seconds == 35 and viewing.position == 600


def test_a_replay_scores_the_share_watched_and_counts_as_watched_from_half() -> None:
    assert on_demand_score(300, 600) == 50.0
    assert on_demand_score(900, 600) == 100.0
    assert on_demand_score(10, 0) == 0.0
    assert watched_replay(300, 600) and not watched_replay(299, 600) and not watched_replay(0, 0)


def test_recording_is_for_the_hosts_of_webinars_and_deleting_for_an_admin_or_the_host() -> None:
    check_can_record("webinar", RoomRole.CO_HOST)
    check_can_record("welcome_seminar", RoomRole.HOST)
    with pytest.raises(Forbidden):
        check_can_record("webinar", RoomRole.ATTENDEE)
    with pytest.raises(NotRecordable):
        check_can_record("one_on_one", RoomRole.HOST)
    check_can_delete("admin", "u1", "u2")
    check_can_delete("host", "u2", "u2")
    with pytest.raises(Forbidden):
        check_can_delete("csm", "u1", "u2")


def test_recordings_expire_after_the_retention_period_unless_it_is_zero() -> None:
    assert expired(at(0), at(0) + timedelta(days=90), 90)
    assert not expired(at(0), at(0) + timedelta(days=89), 90)
    assert not expired(at(0), at(0) + timedelta(days=900), 0)
    assert not expired(None, at(0), 90)
