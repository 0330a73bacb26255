"""HTTP handlers for a session's attendance report: JSON rows and the same rows as a CSV download."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from aiohttp import web

from live.auth.identity import require_staff
from live.auth.model import Action
from live.engagement import store as engagement
from live.engagement.report import AttendanceReport, csv_filename, report_csv
from live.recordings import store as recordings
from live.sessions import store
from live.typedefs import DB, ENGAGEMENT

routes = web.RouteTableDef()


async def _report(request: web.Request) -> AttendanceReport:
    await require_staff(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        # A live session is reported as of now; an ended one as of its end, whenever it is asked.
        report = await engagement.build_report(db, session, datetime.now(UTC), request.app[ENGAGEMENT])
        replays = await recordings.replay_figures(db, session.id)
    # Replays are kept apart from presence (a replay never makes anyone "attended"); they are added here.
    rows = tuple(
        dataclasses.replace(row, **replays[row.contact_id]) if row.contact_id in replays else row
        for row in report.rows
    )
    return dataclasses.replace(report, rows=rows)


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
