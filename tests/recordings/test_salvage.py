"""A recording whose process died: finished from what reached the disk, by the next start or by another process."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection

from live.db.engine import create_engine, session_factory
from live.db.tables import Recording
from live.recordings import salvage
from live.recordings.handlers import keep_recordings
from live.recordings.model import RecordingStatus
from tests.conftest import REDIS_URL, ServerFactory, add_staff
from tests.media.support import TIMEOUT
from tests.recordings.support import FFMPEG, decode_errors, ffprobe, publish, run
from tests.rooms.support import connect, make_room
from tests.rooms.test_processes import serve

# Seconds recorded before the kill: more than the WebM muxer holds back in one cluster.
RECORDED = 12.0


def _row(recording_id: str, heartbeat: datetime | None, started: datetime, session_id: str = "s") -> Recording:
    return Recording(id=recording_id, session_id=session_id, status="recording", started_at=started, heartbeat_at=heartbeat)


def test_an_orphan_is_a_recording_nobody_here_makes_at_once_alone_and_after_a_minute_of_silence_when_shared() -> None:
    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    fresh = _row("fresh", at - timedelta(seconds=15), at - timedelta(minutes=5))
    silent = _row("silent", at - timedelta(seconds=61), at - timedelta(minutes=5))
    never = _row("never", None, at - timedelta(minutes=5))
    mine = _row("mine", at - timedelta(minutes=9), at - timedelta(minutes=10))
    rows = [fresh, silent, never, mine]
    assert [r.id for r in salvage.orphans(rows, {"mine"}, shared=True, at=at)] == ["silent", "never"]
    assert [r.id for r in salvage.orphans(rows, {"mine"}, shared=False, at=at)] == ["fresh", "silent", "never"]


async def _webm(path: Path, seconds: int) -> None:
    """A real VP8 + Opus WebM of `seconds`, made by ffmpeg, cut off in the middle as a killed muxer leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    whole = path.with_suffix(".whole")
    code, _, err = await run(
        FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=15:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libvpx", "-b:v", "200k", "-c:a", "libopus",
        "-f", "webm", str(whole),
    )  # fmt: skip
    assert code == 0, err
    await asyncio.to_thread(_cut, whole, path)


def _cut(whole: Path, path: Path) -> None:
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    whole.unlink()


@pytest.mark.redis
async def test_with_processes_sharing_redis_only_a_recording_silent_for_a_minute_is_finished_and_only_once(
    make_server: ServerFactory, sqlite_url: str, tmp_path: Path
) -> None:
    a = await make_server(sqlite_url, redis_url=REDIS_URL)
    b = await make_server(sqlite_url, redis_url=REDIS_URL)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, a.settings.secret_key, host.id, guests=1, status="live")
    listener = await connect(a.url, host.token, room.session_id)
    at = datetime.now(UTC)
    silent, alive = uuid.uuid4().hex, uuid.uuid4().hex
    engine = create_engine(sqlite_url)
    try:
        async with session_factory(engine)() as db:
            db.add(_row(silent, at - timedelta(minutes=2), at - timedelta(minutes=3), room.session_id))
            db.add(_row(alive, at - timedelta(seconds=5), at - timedelta(minutes=3), room.session_id))
            await db.commit()
        directory = Path(a.settings.recordings_path) / room.session_id
        assert Path(b.settings.recordings_path) == Path(a.settings.recordings_path)
        await _webm(directory / f"{silent}.webm", 6)
        await _webm(directory / f"{alive}.webm", 6)

        # Both processes look at once: at most one takes the silent recording over (their own
        # 10-second rounds may have been first on a slow machine), and it is finished once.
        finished = await asyncio.gather(keep_recordings(a.app), keep_recordings(b.app))
        assert [x for f in finished for x in f] in ([silent], [])
        stopped = await listener.next("recording.stopped", wait=TIMEOUT)
        assert stopped["id"] == silent
        assert await asyncio.gather(keep_recordings(a.app), keep_recordings(b.app)) == [[], []]
        await asyncio.sleep(0.5)
        assert listener.pending("recording.stopped") == []  # told once

        async with session_factory(engine)() as db:
            done, untouched = await db.get(Recording, silent), await db.get(Recording, alive)
        assert done is not None and untouched is not None
        assert done.status == RecordingStatus.READY and untouched.status == RecordingStatus.RECORDING
        assert 2.0 < done.duration_seconds < 6.0  # what the cut file plays, not what was meant
        assert done.path == f"{room.session_id}/{silent}.webm" and done.chapters_path is not None
        probe = await ffprobe(directory / f"{silent}.webm")
        assert abs(probe.duration - done.duration_seconds) < 0.5, probe
        assert (await decode_errors(directory / f"{silent}.webm"))[0] == ""
        listed = await a.request("GET", f"/api/v1/sessions/{room.session_id}/recordings", host.token)
        assert [(r["id"], r["status"]) for r in listed.body if r["id"] == silent] == [(silent, "ready")]
    finally:
        await listener.close()
        await engine.dispose()


async def test_a_recording_whose_process_was_killed_is_finished_by_the_next_start_and_the_room_can_record_again(
    tmp_path: Path, sqlite_url: str, peers: list[RTCPeerConnection]
) -> None:
    secret = "salvage-" + uuid.uuid4().hex
    recordings = tmp_path / "recordings"
    env = {"LIVE_RECORDINGS_DIR": str(recordings)}
    host = await add_staff(sqlite_url, "host@example.com", "host")
    room = await make_room(sqlite_url, secret, host.id, guests=1, status="live")

    async with serve(tmp_path, sqlite_url, secret, extra_env=env) as (url, proc):
        host_client = await connect(url, host.token, room.session_id)
        try:
            await publish(host_client, peers)
            ack = await host_client.call("recording.start", {}, wait=TIMEOUT)
            assert ack["ok"], ack
            await asyncio.sleep(RECORDED)
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
        finally:
            await host_client.close()
    path = recordings / room.session_id / f"{ack['id']}.webm"
    assert path.stat().st_size > 0  # what the killed process had written

    async with serve(tmp_path, sqlite_url, secret, extra_env=env) as (url, _):
        for _ in range(100):
            listed = await _recordings(url, host.token, room.session_id)
            if listed and listed[0]["status"] != "recording":
                break
            await asyncio.sleep(0.2)
        [recording] = listed
        assert recording["id"] == ack["id"] and recording["status"] == "ready", recording
        assert 1.0 < recording["duration_seconds"] <= RECORDED + 1.0, recording
        # Repaired: an index and a duration, as a recording stopped in the room has.
        probe = await ffprobe(path)
        assert probe.codecs() == ["opus", "vp8"]
        assert abs(probe.duration - recording["duration_seconds"]) < 0.5, (probe.duration, recording)
        errors, frames = await decode_errors(path)
        assert errors == "" and frames >= recording["duration_seconds"], (errors, frames)

        host_client = await connect(url, host.token, room.session_id)
        try:
            assert host_client.state["recording"] is None  # no badge left behind
            again = await host_client.call("recording.start", {}, wait=TIMEOUT)
            assert again["ok"] and again["id"] != ack["id"], again
            assert (await host_client.call("recording.stop", {}, wait=TIMEOUT))["ok"]
        finally:
            await host_client.close()


async def _recordings(url: str, token: str, session_id: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(
        f"{url}/api/v1/sessions/{session_id}/recordings", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200, await resp.text()
        body: list[dict[str, Any]] = await resp.json()
        return body
