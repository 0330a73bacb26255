"""HTTP handlers for a session's attendance report: JSON rows and the same rows as a CSV download."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime

from aiohttp import web

from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.engagement import store as engagement
from live.engagement.report import AttendanceReport, csv_filename, report_csv
from live.engagement.whatif import latest_config
from live.recordings import store as recordings
from live.registration import store as registrations
from live.registration.model import Question, questions_of
from live.sessions import store
from live.typedefs import DB, ENGAGEMENT

api = ApiRoutes("sessions")


async def _report(request: web.Request) -> tuple[AttendanceReport, list[Question], dict[str, dict[str, str]]]:
    await require_staff(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        # A live session is reported as of now; an ended one as of its end, whenever it is asked.
        config = await latest_config(db, request.app[ENGAGEMENT])
        report = await engagement.build_report(db, session, datetime.now(UTC), config)
        replays = await recordings.replay_figures(db, session.id)
        questions, answers = questions_of(session.questions), await registrations.answers_of(db, session.id)
    # Replays are kept apart from presence (a replay never makes anyone "attended"); they are added here.
    rows = tuple(
        dataclasses.replace(row, **replays[row.contact_id]) if row.contact_id in replays else row
        for row in report.rows
    )
    return dataclasses.replace(report, rows=rows), questions, answers


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
    report, _, answers = await _report(request)
    # Registration answers by question id; people who did not register (invited by staff) have none.
    return web.json_response(
        [{**row.as_json(), "answers": answers.get(row.contact_id or "", {})} for row in report.rows]
    )


@api.get("/api/v1/sessions/{id}/report.csv", media_type="text/csv", summary="The attendance rows as CSV")
async def attendance_csv(request: web.Request) -> web.Response:
    report, questions, answers = await _report(request)
    return web.Response(
        text=with_answers(report_csv(report), report, questions, answers),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{csv_filename(report.session)}"'},
    )


def with_answers(
    text: str, report: AttendanceReport, questions: list[Question], answers: dict[str, dict[str, str]]
) -> str:
    """The report's CSV with one more column per registration question, headed by the question."""
    if not questions:
        return text
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(rows[0] + [q.text for q in questions])
    for cells, row in zip(rows[1:], report.rows, strict=True):
        given = answers.get(row.contact_id or "", {})
        writer.writerow(cells + [_cell(given.get(q.id, "")) for q in questions])
    return out.getvalue()


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with one of these as a formula; answers are anyone's input.
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value
