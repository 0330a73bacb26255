"""HTTP handlers for a session's attendance report: JSON rows and the same rows as a CSV download."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from live.auth.identity import require_staff
from live.auth.model import Action
from live.engagement import store as engagement
from live.engagement.report import AttendanceReport, csv_filename, report_csv
from live.engagement.whatif import latest_config
from live.sessions import store
from live.typedefs import DB, ENGAGEMENT

routes = web.RouteTableDef()


async def _report(request: web.Request) -> AttendanceReport:
    await require_staff(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        # A live session is reported as of now; an ended one as of its end, whenever it is asked.
        return await engagement.build_report(db, session, datetime.now(UTC), await latest_config(db, request.app[ENGAGEMENT]))


@routes.get("/api/v1/sessions/{id}/attendance")
async def attendance(request: web.Request) -> web.Response:
    report = await _report(request)
    return web.json_response([row.as_json() for row in report.rows])


@routes.get("/api/v1/sessions/{id}/report.csv")
async def attendance_csv(request: web.Request) -> web.Response:
    report = await _report(request)
    return web.Response(
        text=report_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{csv_filename(report.session)}"'},
    )
