"""`recording.start` / `recording.stop`, this process's recorders, and what a recording's end sets off.

A recording runs in the process that drives the session's media (every connection of a session
reaches one process, see docs/protocol.md, "Media"): with the embedded engine the recorder follows
the session's `MediaRouter`; on Janus it follows a `RecordingTap`, a subscriber of the origin room
the engine opens when the recording starts (`RecordedMedia.open_source`). Which recording is under
way is also kept in a store every process reads (`live.recordings.current`), so every page, on any
process, shows the badge. On stop the files are closed, the chapters written beside them, the row
committed, and then `RecordingReady` is published: `recording.ready` goes out as a webhook from that
event (wired in `live.app`). A recording whose process died is finished from its files by another
process or the next start (`keep_recordings`, rules in `live.recordings.salvage`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from live.background import rounds, running
from live.bus import BUS
from live.db.tables import Recording
from live.domain_events import RecordingReady, SessionEnded
from live.isotime import iso_z
from live.media.handlers import MEDIA, SessionMedia
from live.media.janus.handlers import JANUS
from live.recordings import salvage, store
from live.recordings.current import CURRENT_RECORDINGS, current_recordings_ctx
from live.recordings.events import RecordingCommandIn, RecordingPart, RecordingStartedOut, RecordingStoppedOut
from live.recordings.model import (
    AlreadyRecording,
    NotRecording,
    RecordingStatus,
    chapters_vtt,
    check_can_record,
    expired,
)
from live.recordings.recorder import RecordedFiles, Recorder, TrackSource
from live.rooms.dispatch import Ctx, EventRegistry, now, session_room
from live.rooms.model import STAFF, RateKind
from live.rooms.namespace import NAMESPACE
from live.rooms.server_events import send
from live.typedefs import DB, EVENT_WRITER, ROOM_STATE_PARTS, SETTINGS, SIO
from live.webhooks import delivery
from live.webhooks import store as webhooks
from live.webhooks.model import WebhookEvent

log = logging.getLogger(__name__)

# Seconds between retention sweeps (the first runs at start-up).
RETENTION_CHECK_EVERY = 3600.0


class RecordedMedia(Protocol):
    """What recorders need from the media engine: each session's tracks, and word when they change."""

    listeners: list[Callable[[str], None]]

    def source(self, session_id: str) -> TrackSource | None: ...

    async def open_source(self, session_id: str) -> None:
        """A recording of the session starts (Janus taps its origin room then)."""

    async def close_source(self, session_id: str) -> None:
        """It stopped."""


class EmbeddedMedia:
    """The embedded engine as `RecordedMedia`: the recorder follows the session's router itself."""

    def __init__(self, media: SessionMedia) -> None:
        self._media = media
        self.listeners = media.listeners

    def source(self, session_id: str) -> TrackSource | None:
        return self._media.get(session_id)

    async def open_source(self, session_id: str) -> None:
        return None

    async def close_source(self, session_id: str) -> None:
        return None


class Recordings:
    """This process's recorders, one per session being recorded."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._active: dict[str, tuple[str, Recorder]] = {}
        self.media: RecordedMedia | None = None  # the engine's, set once it runs (`recordings_ctx`)

    def active(self, session_id: str) -> str | None:
        entry = self._active.get(session_id)
        return entry[0] if entry else None

    def start(self, session_id: str, recording_id: str) -> None:
        directory = self._app[SETTINGS].recordings_path / session_id
        recorder = Recorder(directory, recording_id, f"{session_id}/recording {recording_id}")
        self._active[session_id] = (recording_id, recorder)
        self.tracks_changed(session_id)

    def tracks_changed(self, session_id: str) -> None:
        """A publisher came, went or changed tracks: recorders pick up what they lack."""
        entry = self._active.get(session_id)
        if entry is not None and self.media is not None:
            entry[1].follow(self.media.source(session_id))

    def stop(self, session_id: str) -> tuple[str, RecordedFiles] | None:
        entry = self._active.pop(session_id, None)
        if entry is None:
            return None
        recording_id, recorder = entry
        return recording_id, recorder.stop()

    def sessions(self) -> list[str]:
        return list(self._active)

    def recording_ids(self) -> set[str]:
        return {recording_id for recording_id, _ in self._active.values()}


RECORDINGS: web.AppKey[Recordings] = web.AppKey("recordings")


def register(app: web.Application, registry: EventRegistry) -> None:
    registry.add("recording.start", start_recording, RecordingCommandIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    registry.add("recording.stop", stop_recording, RecordingCommandIn, roles=STAFF, rate=RateKind.STAFF_ONLY)
    app.setdefault(ROOM_STATE_PARTS, {})["recording"] = recording_part
    app[RECORDINGS] = Recordings(app)
    app.cleanup_ctx.append(current_recordings_ctx)
    app.cleanup_ctx.append(recordings_ctx)  # after media's: it needs the engine


async def recordings_ctx(app: web.Application) -> AsyncIterator[None]:
    media: RecordedMedia = app[JANUS] if app[SETTINGS].media == "janus" else EmbeddedMedia(app[MEDIA])
    app[RECORDINGS].media = media
    media.listeners.append(app[RECORDINGS].tracks_changed)

    stop = asyncio.Event()  # both loops write to the database: they end between rounds, never mid-write
    sweep = rounds(lambda: delete_expired(app), RETENTION_CHECK_EVERY, stop, "recordings: the retention sweep")
    keep = rounds(lambda: keep_recordings(app), salvage.HEARTBEAT, stop, "recordings: the heartbeat and salvage")
    async with (
        running(sweep, name="recording-retention", stop=stop),
        running(keep, name="recording-heartbeat", stop=stop),
    ):
        yield
    # Shutting down: finish what is being recorded, so the files are playable and listed.
    for session_id in app[RECORDINGS].sessions():
        await finish(app, session_id)


async def delete_expired(app: web.Application, at: datetime | None = None) -> list[str]:
    """Deletes the files of finished recordings older than `recording_retention_days`; returns their ids.

    Idempotent, so every process may run it: a recording already deleted is not selected again."""
    at = at or now()
    days = app[SETTINGS].recording_retention_days
    if days <= 0:
        return []
    directory = app[SETTINGS].recordings_path
    async with app[DB]() as db:
        old = [r for r in await store.ready_older_than(db, at - timedelta(days=days)) if expired(r.ended_at, at, days)]
        for recording in old:
            remove_files(directory, recording)
            recording.status = RecordingStatus.DELETED
            recording.deleted_at = at
        await db.commit()
    if old:
        log.info("recordings: deleted %d recordings older than %g days", len(old), days)
    return [r.id for r in old]


async def keep_recordings(app: web.Application) -> list[str]:
    """Moves the heartbeat of the recordings this process makes, then finishes those whose process died
    (`live.recordings.salvage`); returns the ids of the ones it finished."""
    at = now()
    mine = app[RECORDINGS].recording_ids()
    async with app[DB]() as db:
        await store.beat(db, sorted(mine), at)
        found = salvage.orphans(await store.being_made(db), mine, bool(app[SETTINGS].redis_url), at)
        claimed = [row for row in found if await store.claim(db, row, at)]
        await db.commit()
    for row in claimed:  # read before the claim moved its heartbeat: when its process was last heard of
        await finish_orphan(app, row.id, row.session_id, row.started_at, row.heartbeat_at or row.started_at, at)
    return [row.id for row in claimed]


async def finish_orphan(
    app: web.Application, recording_id: str, session_id: str, started_at: datetime, last_heard: datetime, at: datetime
) -> None:
    """An orphaned recording, claimed by this process: made ready from its files, or deleted if none is readable."""
    files = await asyncio.to_thread(salvage.files_on_disk, app[SETTINGS].recordings_path / session_id, recording_id)
    current = await app[CURRENT_RECORDINGS].get(session_id)
    if current is not None and current.id == recording_id:
        await app[CURRENT_RECORDINGS].clear(session_id)
    if files.duration_seconds > 0:
        ended = started_at + timedelta(seconds=files.duration_seconds)
        log.warning(
            "%s: recording %s lost its process (last heard %s); finishing it from its files", session_id, recording_id, iso_z(last_heard)
        )
        await complete(app, session_id, recording_id, files, ended)
        return
    async with app[DB]() as db:
        recording = await db.get(Recording, recording_id)
        assert recording is not None, "a claimed recording has its row"
        recording.status = RecordingStatus.DELETED
        recording.ended_at = last_heard
        recording.deleted_at = at
        await db.commit()
    log.warning("%s: recording %s lost its process before anything playable was written; marked deleted", session_id, recording_id)
    await send(app[SIO], RecordingStoppedOut(id=recording_id, at=last_heard), to=session_room(session_id), namespace=NAMESPACE)


def speaker_files(recording: Recording) -> list[tuple[str, str]]:
    """(participant id, file name) of each publisher recorded besides the presenter."""
    return [(str(s["participant_id"]), str(s["path"])) for s in recording.speaker_paths or []]


def remove_files(directory: Path, recording: Recording) -> None:
    names = [recording.path, recording.screen_path, recording.chapters_path, *(p for _, p in speaker_files(recording))]
    for name in names:
        if name:
            (directory / name).unlink(missing_ok=True)


async def start_recording(ctx: Ctx, body: RecordingCommandIn) -> dict[str, Any]:
    check_can_record(ctx.session["kind"], ctx.me.role)
    recordings = ctx.app[RECORDINGS]
    if recordings.active(ctx.session_id) is not None or await ctx.app[CURRENT_RECORDINGS].get(ctx.session_id):
        raise AlreadyRecording("This session is already being recorded; stop that recording first.")
    at = now()
    async with ctx.app[DB]() as db:
        recording = await store.create(db, ctx.session_id, ctx.me.participant_id, at)
        await db.commit()
    recordings.start(ctx.session_id, recording.id)
    if recordings.media is not None:
        await recordings.media.open_source(ctx.session_id)
    await ctx.app[CURRENT_RECORDINGS].set(ctx.session_id, RecordingPart(id=recording.id, since=at))
    log.info("%s/%s: recording %s started", ctx.session_id, ctx.me.participant_id, recording.id)
    await ctx.emit(RecordingStartedOut(id=recording.id, at=at))
    return {"id": recording.id}


async def stop_recording(ctx: Ctx, body: RecordingCommandIn) -> dict[str, Any]:
    check_can_record(ctx.session["kind"], ctx.me.role)
    recording_id = await finish(ctx.app, ctx.session_id)
    if recording_id is None:
        raise NotRecording("This session is not being recorded.")
    return {"id": recording_id}


async def finish(app: web.Application, session_id: str) -> str | None:
    """Stop the session's recording in this process: files closed, row ready, everyone told."""
    stopped = app[RECORDINGS].stop(session_id)
    if stopped is None:
        return None
    recording_id, files = stopped
    media = app[RECORDINGS].media
    if media is not None:
        await media.close_source(session_id)
    at = now()
    await app[CURRENT_RECORDINGS].clear(session_id)
    await complete(app, session_id, recording_id, files, at)
    return recording_id


async def complete(app: web.Application, session_id: str, recording_id: str, files: RecordedFiles, at: datetime) -> None:
    """A recording's files are final: chapters written beside them, the row ready, everyone told,
    `RecordingReady` published. `at` is when it ended."""
    await app[EVENT_WRITER].flush()  # the chapters come from the event log
    directory = app[SETTINGS].recordings_path
    async with app[DB]() as db:
        recording = await db.get(Recording, recording_id)
        assert recording is not None, "a recording being made has its row"
        chapters = await store.chapters(db, session_id, recording.started_at, at)
        vtt = chapters_vtt(chapters, recording.started_at, files.duration_seconds)
        chapters_file = directory / session_id / f"{recording_id}.vtt"
        chapters_file.parent.mkdir(parents=True, exist_ok=True)
        chapters_file.write_text(vtt, encoding="utf-8")
        recording.status = RecordingStatus.READY
        recording.ended_at = at
        recording.duration_seconds = round(files.duration_seconds, 3)
        recording.size_bytes = files.size_bytes
        recording.path = _relative(files.main, directory)
        recording.screen_path = _relative(files.screen, directory)
        recording.chapters_path = _relative(chapters_file, directory)
        speakers = [{"participant_id": p, "path": _relative(path, directory)} for p, path in files.speakers.items()]
        recording.speaker_paths = speakers or None
        await db.commit()
    log.info("%s: recording %s ready (%.1f s, %d bytes)", session_id, recording_id, files.duration_seconds, files.size_bytes)
    await send(app[SIO], RecordingStoppedOut(id=recording_id, at=at), to=session_room(session_id), namespace=NAMESPACE)
    await app[BUS].publish(RecordingReady(recording_id=recording_id, session_id=session_id))


def _relative(path: Path | None, directory: Path) -> str | None:
    return str(path.relative_to(directory)) if path is not None else None


async def recording_part(ctx: Ctx) -> RecordingPart | None:
    """`room.state.recording`: `{id, since}` while the session is being recorded, else null."""
    return await ctx.app[CURRENT_RECORDINGS].get(ctx.session_id)


async def stop_when_session_ends(app: web.Application, event: SessionEnded) -> None:
    """A session that ends stops its recording (subscribed before media closes the forwarders)."""
    await finish(app, event.session_id)


def recording_json(recording: Recording, public_url: str) -> dict[str, Any]:
    return {
        "id": recording.id,
        "session_id": recording.session_id,
        "status": recording.status,
        "started_at": iso_z(recording.started_at),
        "ended_at": iso_z(recording.ended_at) if recording.ended_at else None,
        "duration_seconds": recording.duration_seconds,
        "size_bytes": recording.size_bytes,
        "media_type": store.MEDIA_TYPE,
        "download_url": f"{public_url}/api/v1/recordings/{recording.id}/file",
        "screen_url": f"{public_url}/api/v1/recordings/{recording.id}/file?part=screen" if recording.screen_path else None,
        # Each other publisher's camera and microphone (a co-host, a speaker from the audience), on the same clock.
        "speakers": [
            {
                "participant_id": participant_id,
                "url": f"{public_url}/api/v1/recordings/{recording.id}/file?part=speaker&participant={participant_id}",
            }
            for participant_id, _ in speaker_files(recording)
        ],
    }


async def queue_ready_webhook(app: web.Application, event: RecordingReady) -> None:
    """`recording.ready` with the recording as the API lists it."""
    async with app[DB]() as db:
        recording = await db.get(Recording, event.recording_id)
        if recording is None:
            return
        await webhooks.enqueue(db, WebhookEvent.RECORDING_READY, {"recording": recording_json(recording, app[SETTINGS].public_url)})
        await db.commit()
    delivery.poke(app)


async def replay_url_for(app: web.Application, session_id: str, contact_id: str) -> str | None:
    """The invited contact's replay page, or None while the session has no finished recording."""
    async with app[DB]() as db:
        if await store.latest_ready(db, session_id) is None:
            return None
        token = await store.invitation_token(db, session_id, contact_id)
    return f"{app[SETTINGS].public_url}/replay/{token}" if token else None
