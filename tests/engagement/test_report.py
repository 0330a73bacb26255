"""The pure read models: attendance rows (no-shows, staff, live sessions), the CSV, the series and the explanation."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta

from live.accounts.model import Phase, Tier
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot
from live.engagement.model import ScoredSession
from live.engagement.report import (
    Person,
    SessionInfo,
    attendance_report,
    contributions,
    csv_filename,
    engagement_series,
    explain,
    report_csv,
)
from live.events.model import EventType, LogEvent

# These tests are about the model's other rules; the evidence rules (one odd session must not move an
# account) are relaxed here and tested with the defaults in test_trust.py.
CONFIG = EngagementConfig().with_overrides(
    {"min_scored_minutes": 0, "min_scored_share": 0, "min_evidence_sessions": 1, "inactivity_min_invitations": 0}
)
START = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def minute(n: float) -> datetime:
    return START + timedelta(minutes=n)


def ev(kind: EventType, at: float, who: str | None = None, **data: object) -> LogEvent:
    return LogEvent("s1", kind, minute(at), who, dict(data))


SEMINAR_LOG = [
    ev(EventType.JOINED, 0, "u_h", sid="h", role="host", name="Hana"),
    ev(EventType.SESSION_STARTED, 0),
    ev(EventType.JOINED, 2, "c_ann", sid="a1", role="attendee", name="Ann", contact_id="ann"),
    ev(EventType.CHAT_MESSAGE, 5, "c_ann", id="m1", text="=cmd()"),
    ev(EventType.LEFT, 20, "c_ann", sid="a1"),
    ev(EventType.JOINED, 25, "c_ann", sid="a2", role="attendee", name="Ann", contact_id="ann"),
    ev(EventType.LEFT, 55, "c_ann", sid="a2"),
    ev(EventType.SESSION_ENDED, 60),
]
INVITED = {"ann": Person("=Ann", "ann@acme.test", "acme"), "bob": Person("Bob", "bob@acme.test", "acme")}
KNOWN = {"u_h": Person("Hana Host", "hana@live.test")}


def info(ended: bool = True) -> SessionInfo:
    return SessionInfo("s1", "welcome_seminar", "Welcome: Q2!", START, 60, "ended" if ended else "live",
                       minute(60) if ended else None)


def test_rows_cover_staff_the_present_and_invited_no_shows() -> None:
    report = attendance_report(info(), SEMINAR_LOG, INVITED, KNOWN, minute(90), CONFIG)
    host, ann, bob = report.rows
    assert (host.contact_id, host.name, host.email, host.score) == (None, "Hana Host", "hana@live.test", None)
    assert ann.contact_id == "ann" and ann.account_id == "acme" and len(ann.intervals) == 2
    assert ann.present_seconds == 48 * 60 and ann.attended and not ann.no_show and ann.score is not None
    assert bob.no_show and bob.score == 0 and bob.intervals == () and not bob.attended
    assert [s.contact_id for s in report.scored()] == ["ann", "bob"]
    assert {s.ended_at for s in report.scored()} == {minute(60)}


def test_a_live_session_is_reported_as_of_now_with_open_connections_unfinished() -> None:
    live_log = [e for e in SEMINAR_LOG if e.at <= minute(30)]
    report = attendance_report(info(ended=False), live_log, INVITED, KNOWN, minute(30), CONFIG)
    ann = next(r for r in report.rows if r.contact_id == "ann")
    assert ann.left_at is None and ann.intervals[-1] == (minute(25), minute(30))
    assert ann.present_seconds == 23 * 60


def test_the_csv_has_a_header_one_interval_column_and_no_formulas() -> None:
    report = attendance_report(info(), SEMINAR_LOG, INVITED, KNOWN, minute(90), CONFIG)
    table = list(csv.DictReader(io.StringIO(report_csv(report))))
    ann = next(r for r in table if r["contact_id"] == "ann")
    assert ann["name"] == "'=Ann"  # a spreadsheet shows it, never runs it
    assert ann["intervals"] == (
        f"{minute(2).isoformat()}–{minute(20).isoformat()}; {minute(25).isoformat()}–{minute(55).isoformat()}"
    )
    assert ann["no_show"] == "false" and table[0]["score"] == ""
    assert csv_filename(info()) == "attendance-welcome-q2-2026-03-02.csv"


def scored(session: str, contact: str, days_ago: float, score: float, kind: str = "webinar") -> ScoredSession:
    return ScoredSession(session, contact, kind, NOW - timedelta(days=days_ago), score, score > 30)


NOW = datetime(2026, 3, 31, tzinfo=UTC)
SCORES = [scored("s1", "ann", 40, 90, "welcome_seminar"), scored("s2", "ann", 10, 50), scored("s2", "bob", 10, 0)]


def test_contributions_add_up_to_the_engagement_and_the_series_ends_today() -> None:
    lines = contributions(SCORES, NOW, CONFIG)
    assert math.isclose(sum(line["share"] for line in lines), 1.0, abs_tol=1e-5)
    first = lines[0]
    assert first["kind_weight"] == 1.2 and math.isclose(first["decay"], 0.5 ** (40 / 30), rel_tol=1e-5)
    series = engagement_series(SCORES, NOW, CONFIG)
    assert [p["date"] for p in series] == [(NOW - timedelta(days=40)).isoformat(), (NOW - timedelta(days=10)).isoformat(),
                                           NOW.isoformat()]
    assert series[0]["engagement"] == 90
    assert math.isclose(series[-1]["engagement"], sum(line["contribution"] for line in lines), abs_tol=0.01)


def test_the_explanation_names_every_input_and_what_an_evaluation_now_would_do() -> None:
    account = AccountSnapshot("acme", 400, NOW - timedelta(days=50), Tier.TECH, Phase.ONBOARDING)
    data = explain(account, SCORES, NOW, CONFIG)
    assert data["tier"]["ltv"]["arithmetic"] == "400.00 × 0.8 ÷ 0.02 = 16,000.00"
    assert data["tier"]["band"] == "tech" and data["config"]["version"] == CONFIG.version
    assert data["phase"]["inputs"]["welcome_seminars_attended"] == ["s1"]
    assert {c["field"]: c["rule"] for c in data["would_change"]}["phase"] == "welcome_seminar_attended"
    assert len(data["engagement"]["sessions"]) == 3
