"""HTTP handlers for a session's attendance report: JSON rows and the same rows as a CSV download."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.engagement import store as engagement
from live.engagement.report import AttendanceReport, csv_filename, report_csv
from live.sessions import store
from live.typedefs import DB, ENGAGEMENT

api = ApiRoutes("sessions")


async def _report(request: web.Request) -> AttendanceReport:
    await require_staff(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        # A live session is reported as of now; an ended one as of its end, whenever it is asked.
        return await engagement.build_report(db, session, datetime.now(UTC), request.app[ENGAGEMENT])


class AttendanceRowOut(Out):
    contact_id: str | None
    account_id: str | None
    joined_at: str | None
    left_at: str | None
    present_seconds: float
    focused_seconds: float
    chat_messages: int
    questions: int
    poll_answers: int
    reactions: int
    hand_raises: int
    score: float | None
    no_show: bool


@api.get("/api/v1/sessions/{id}/attendance", response=list[AttendanceRowOut], summary="One row per invited or present person")
async def attendance(request: web.Request) -> web.Response:
    report = await _report(request)
    return web.json_response([row.as_json() for row in report.rows])


@api.get("/api/v1/sessions/{id}/report.csv", media_type="text/csv", summary="The attendance rows as CSV")
async def attendance_csv(request: web.Request) -> web.Response:
    report = await _report(request)
    return web.Response(
        text=report_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{csv_filename(report.session)}"'},
    )
