"""HTTP: the recordings API (list, download with Range, delete) and the replay page with its progress reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import Field

from live.api.parse import Body, json_body
from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.db.tables import Contact, LiveSession, Recording
from live.engagement import service as engagement
from live.errors import Conflict, NotFound
from live.pages.base import render
from live.recordings import store
from live.recordings.handlers import recording_json, remove_files, speaker_files
from live.recordings.model import RecordingStatus, check_can_delete
from live.rooms.dispatch import spawn
from live.sessions import store as sessions
from live.sessions.invitations import read_join_token
from live.typedefs import DB, SETTINGS

routes = web.RouteTableDef()  # the replay pages
api = ApiRoutes("recordings")

# Parts of a recording that can be downloaded: `?part=` value -> the row's column (`speaker` takes
# `&participant=<id>` too: one file per publisher besides the presenter).
PARTS = {"main": "path", "screen": "screen_path", "chapters": "chapters_path", "speaker": "speaker_paths"}
CONTENT_TYPES = {
    "main": store.MEDIA_TYPE,
    "screen": store.MEDIA_TYPE,
    "chapters": "text/vtt; charset=utf-8",
    "speaker": store.MEDIA_TYPE,
}


class ProgressIn(Body):
    # A day is longer than any recording; larger numbers are junk, not progress.
    position_seconds: float = Field(ge=0, le=86_400, allow_inf_nan=False)
    playing: bool


def _file(request: web.Request, recording: Recording, part: str, participant: str | None = None) -> Path:
    if part not in PARTS:
        raise NotFound(f"A recording has no part {part!r}; ask for one of {', '.join(PARTS)}.")
    name: str | None
    if part == "speaker":
        name = dict(speaker_files(recording)).get(participant or "")
        if name is None:
            raise NotFound(f"Recording {recording.id!r} has no file of participant {participant!r}.")
    else:
        name = getattr(recording, PARTS[part])
    path = request.app[SETTINGS].recordings_path / name if name else None
    if path is None or not path.is_file():
        raise NotFound(f"Recording {recording.id!r} has no {part} file (nothing of that kind was recorded).")
    return path


def _send(request: web.Request, recording: Recording, part: str, participant: str | None = None) -> web.FileResponse:
    # aiohttp's FileResponse answers `Range` (206, 416) and `If-Range`, and streams without reading all.
    response = web.FileResponse(_file(request, recording, part, participant))
    response.content_type = CONTENT_TYPES[part]
    return response


@api.get("/api/v1/sessions/{id}/recordings", response=list[Out], summary="A session's recordings")
async def list_recordings(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        session = await sessions.get_session(db, request.match_info["id"])
        rows = await store.of_session(db, session.id)
    public_url = request.app[SETTINGS].public_url
    return web.json_response([recording_json(r, public_url) for r in rows])


@api.get("/api/v1/recordings/{id}/file", media_type="video/webm", summary="A recording's file (HTTP Range answered)")
async def download(request: web.Request) -> web.FileResponse:
    await require_staff(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        recording = await store.get(db, request.match_info["id"])
    return _send(request, recording, request.query.get("part", "main"), request.query.get("participant"))


@api.delete("/api/v1/recordings/{id}", response=Out, errors=(409,), summary="Delete a recording (admin, or the session's host)")
async def delete(request: web.Request) -> web.Response:
    staff = await require_staff(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        recording = await store.get(db, request.match_info["id"])
        session = await sessions.get_session(db, recording.session_id)
        check_can_delete(staff.role, staff.id, session.host_id)
        if recording.status == RecordingStatus.RECORDING:
            raise Conflict("This recording is still being made; stop it in the room first.", code="recording")
        remove_files(request.app[SETTINGS].recordings_path, recording)
        recording.status = RecordingStatus.DELETED
        recording.deleted_at = datetime.now(UTC)
        await db.commit()
    return web.Response(status=204)


async def _replay_of(request: web.Request) -> tuple[LiveSession, Contact, Recording, str]:
    """The session, invited contact and recording a replay link opens (their join token)."""
    token = request.match_info["token"]
    claim = read_join_token(request.app[SETTINGS].secret_key, token)
    async with request.app[DB]() as db:
        invitation = await sessions.invitation_by_token(db, token) if claim else None
        if invitation is None:
            raise NotFound("This replay link is not valid. Check that you copied the whole link.")
        session = await db.get(LiveSession, invitation.session_id)
        contact = await db.get(Contact, invitation.contact_id)
        recording = await store.latest_ready(db, invitation.session_id)
    if session is None or contact is None:
        raise NotFound("This session no longer exists.")
    if recording is None:
        raise NotFound("There is no recording of this session (yet). Come back once the host has shared it.")
    return session, contact, recording, token


@routes.get("/replay/{token}")
async def replay_page(request: web.Request) -> web.Response:
    session, contact, recording, token = await _replay_of(request)
    async with request.app[DB]() as db:
        view = await store.view_of(db, recording, contact.id)
    config: dict[str, Any] = {
        "token": token,
        "recording": recording.id,
        "duration": recording.duration_seconds,
        "resume": view.position if view is not None else 0,
        "has_screen": bool(recording.screen_path),
        "speakers": len(speaker_files(recording)),
    }
    return render(request, "replay.html", None, session=session, contact=contact, recording=recording, config=config)


@routes.get("/replay/{token}/{part:main|screen|chapters}")
async def replay_file(request: web.Request) -> web.FileResponse:
    _, _, recording, _ = await _replay_of(request)
    return _send(request, recording, request.match_info["part"])


@routes.get(r"/replay/{token}/speakers/{n:\d{1,3}}")
async def replay_speaker(request: web.Request) -> web.FileResponse:
    """The n-th other publisher's file (0-based), by position: a replay link never names participants."""
    _, _, recording, _ = await _replay_of(request)
    speakers = speaker_files(recording)
    n = int(request.match_info["n"])
    if n >= len(speakers):
        raise NotFound(f"This recording has {len(speakers)} other speakers.")
    return _send(request, recording, "speaker", speakers[n][0])


@api.post("/replay/{token}/progress", body=ProgressIn, response=Out, auth="join_token", summary="Replay progress of the invited contact")
async def replay_progress(request: web.Request) -> web.Response:
    _, contact, recording, _ = await _replay_of(request)
    body = await json_body(request, ProgressIn)
    async with request.app[DB]() as db:
        recording = await store.get(db, recording.id)
        view = await store.record_progress(
            db, recording, contact.id, body.position_seconds, body.playing, datetime.now(UTC)
        )
        await db.commit()
        seconds = view.seconds
    if not body.playing and contact.account_id:
        # Paused, ended or left: the account's engagement takes the watching in now (not every 5 s).
        spawn(request.app, engagement.reevaluate(request.app, contact.account_id))
    return web.json_response({"replay_seconds": round(seconds, 1), "duration_seconds": recording.duration_seconds})
