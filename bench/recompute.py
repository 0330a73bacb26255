"""How long does `live scores recompute` take for a year of history, and how much of it is the database?

    .venv/bin/python bench/recompute.py [--accounts 1000] [--days 365] [--database-url URL] [--before REF]

Generates, in a fresh SQLite database (or the empty database at --database-url), a simulated year: accounts
signed through the year with 1-4 contacts each, a weekly webinar, a fortnightly welcome seminar (inviting
the accounts signed since the last one), and a one-on-one per month for a tenth of the accounts. Each
session gets a real *event log* (start, joins, focus changes, chat, questions, poll open/vote/close,
reactions, hands, leaves, end) written to the `events` table, so the recompute does all of its work:
attendance derivation, scoring, the account timelines with their daily ticks, and the writes.

Prints one table: the recompute against the database, the what-if preview (load the log, replay it under a
changed band, nothing written), and as a baseline the same derivation, scoring and evaluation over the same
in-memory events with no database at all. Wall and CPU seconds: on a shared machine the CPU is the fairer figure.

With `--before REF` the same script first runs the code of commit REF (a `git archive` export put first on
PYTHONPATH, in a child process, on the same simulated year and the same backend), then this checkout's, and
prints one table with both, each row with the load average when it ran: before and after from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

import live
from live.accounts.model import Phase, Source, lifetime_value, tier_for_ltv
from live.db.engine import create_engine, session_factory, upgrade
from live.db.tables import Account, Contact, Event, Invitation, LiveSession, User
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot
from live.engagement.model import ScoredSession
from live.engagement.recompute import account_timeline, recompute, replay
from live.engagement.report import Person, SessionInfo, attendance_report
from live.engagement.whatif import load_world, preview
from live.events.model import EventType, LogEvent

SEED = 20260301


@dataclass
class World:
    now: datetime
    accounts: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    invitations: list[dict[str, Any]] = field(default_factory=list)
    events: list[LogEvent] = field(default_factory=list)


def generate(n_accounts: int, days: int, config: EngagementConfig) -> World:
    rng = random.Random(SEED)
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    start = now - timedelta(days=days)
    world = World(now)
    contacts_of: dict[str, list[str]] = defaultdict(list)
    keenness: dict[str, float] = {}
    for a in range(n_accounts):
        signed = start + timedelta(seconds=rng.uniform(0, days * 0.9 * 86_400))
        mrr = round(rng.lognormvariate(7, 1.2), 2)
        ltv = lifetime_value(mrr, config.gross_margin, config.monthly_churn)
        account_id = f"a{a:05d}"
        world.accounts.append(
            {
                "id": account_id, "name": f"Account {a}", "plan": "pro", "mrr": mrr, "ltv": ltv,
                "tier": tier_for_ltv(ltv, config.high_band, config.low_band).value, "phase": "onboarding",
                "signed_at": signed, "created_at": signed, "updated_at": signed, "engine_state": {},
                "tier_source": "engine", "phase_source": "engine", "health": "neutral",
            }
        )
        keenness[account_id] = rng.betavariate(2, 2)
        for c in range(rng.randint(1, 4)):
            contact_id = f"{account_id}c{c}"
            contacts_of[account_id].append(contact_id)
            world.contacts.append(
                {"id": contact_id, "account_id": account_id, "name": f"Person {a}.{c}", "email": f"p{c}@a{a}.test",
                 "created_at": signed}
            )
    signed_at = {a["id"]: a["signed_at"] for a in world.accounts}

    def add_session(kind: str, at: datetime, minutes: int, invited: list[str], account_id: str | None = None) -> None:
        sid = f"s{len(world.sessions):05d}"
        ended = at + timedelta(minutes=minutes + rng.uniform(-5, 5))
        world.sessions.append(
            {"id": sid, "kind": kind, "title": f"{kind} {sid}", "starts_at": at, "duration_minutes": minutes,
             "host_id": "host", "status": "ended", "started_at": at, "ended_at": ended, "proposed": False,
             "account_id": account_id, "created_at": at - timedelta(days=7)}
        )
        for contact_id in invited:
            world.invitations.append({"id": f"{sid}{contact_id}", "session_id": sid, "contact_id": contact_id,
                                      "token": f"t{sid}{contact_id}", "reason": "manual", "created_at": at})
        world.events.extend(session_log(rng, sid, kind, at, ended, invited, keenness))

    for week in range(days // 7):
        at = start + timedelta(days=7 * week + 2, hours=16)
        active = [a for a, s in signed_at.items() if s < at and rng.random() < 0.3]
        add_session("webinar", at, 45, [c for a in active for c in contacts_of[a]])
        if week % 2 == 0:
            fresh = [a for a, s in signed_at.items() if at - timedelta(days=14) <= s < at]
            add_session("welcome_seminar", at + timedelta(days=1), 45, [c for a in fresh for c in contacts_of[a]])
    for month in range(days // 30):
        at = start + timedelta(days=30 * month + 10, hours=15)
        for account_id in rng.sample(sorted(signed_at), max(1, n_accounts // 10)):
            if signed_at[account_id] < at:
                add_session("one_on_one", at + timedelta(hours=rng.randint(0, 72)), 30, contacts_of[account_id][:3],
                            account_id)
    return world


def session_log(
    rng: random.Random, sid: str, kind: str, start: datetime, end: datetime, invited: list[str],
    keenness: dict[str, float],
) -> list[LogEvent]:
    length = (end - start).total_seconds()

    def at(share: float) -> datetime:
        return start + timedelta(seconds=length * min(1.0, max(0.0, share)))

    log = [
        LogEvent(sid, EventType.JOINED, start, "u_host", {"sid": f"{sid}h", "role": "host", "name": "Host"}),
        LogEvent(sid, EventType.SESSION_STARTED, start),
        LogEvent(sid, EventType.SESSION_ENDED, end),
    ]
    polls = [] if kind == "one_on_one" else [f"{sid}p{n}" for n in range(rng.randint(1, 2))]
    for n, poll in enumerate(polls):
        log += [LogEvent(sid, EventType.POLL_OPENED, at(0.3 + 0.3 * n), "u_host", {"poll_id": poll}),
                LogEvent(sid, EventType.POLL_CLOSED, at(0.4 + 0.3 * n), "u_host", {"poll_id": poll})]
    for contact_id in invited:
        keen = keenness[contact_id.split("c")[0]]
        if rng.random() > 0.2 + 0.7 * keen:
            continue  # a no-show
        who, conn = f"c_{contact_id}", f"{sid}{contact_id}"
        joined, left = rng.uniform(0, 0.3), rng.uniform(0.4 + 0.5 * keen, 1.05)
        log.append(LogEvent(sid, EventType.JOINED, at(joined), who,
                            {"sid": conn, "role": "attendee", "name": contact_id, "contact_id": contact_id}))
        if rng.random() < 0.3:
            away = rng.uniform(joined, left)
            log += [LogEvent(sid, EventType.FOCUS, at(away), who, {"sid": conn, "visible": False}),
                    LogEvent(sid, EventType.FOCUS, at(away + 0.05), who, {"sid": conn, "visible": True})]
        if kind == "one_on_one":
            log.append(LogEvent(sid, EventType.MEDIA_STATE, at(joined), who, {"sid": conn, "camera": rng.random() < keen,
                                                                             "mic": True}))
        for m in range(int(rng.expovariate(1 / (3 * keen + 0.1)))):
            log.append(LogEvent(sid, EventType.CHAT_MESSAGE, at(rng.uniform(joined, left)), who,
                                {"id": f"{conn}m{m}", "text": "hi"}))
        if rng.random() < keen / 2:
            log.append(LogEvent(sid, EventType.QA_ASKED, at(rng.uniform(joined, left)), who, {"id": f"{conn}q", "text": "?"}))
        for n, poll in enumerate(polls):
            if joined < 0.3 + 0.3 * n < left and rng.random() < 0.3 + 0.6 * keen:
                log.append(LogEvent(sid, EventType.POLL_VOTED, at(0.35 + 0.3 * n), who, {"poll_id": poll, "choices": [0]}))
        for _ in range(rng.randint(0, 3)):
            log.append(LogEvent(sid, EventType.REACTION, at(rng.uniform(joined, left)), who, {"kind": "heart"}))
        log.append(LogEvent(sid, EventType.LEFT, at(left), who, {"sid": conn}))
    return log


async def load(url: str, world: World) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(User), [{"id": "host", "email": "host@bench.test", "name": "Host", "role": "host",
                                               "created_at": world.now}])
            await conn.execute(insert(Account), world.accounts)
            await conn.execute(insert(Contact), world.contacts)
            await conn.execute(insert(LiveSession), world.sessions)
            for chunk in range(0, len(world.invitations), 5000):
                await conn.execute(insert(Invitation), world.invitations[chunk : chunk + 5000])
            rows = [{"session_id": e.session_id, "participant_id": e.participant_id, "type": e.type.value, "at": e.at,
                     "data": e.data} for e in world.events]
            for chunk in range(0, len(rows), 5000):
                await conn.execute(insert(Event), rows[chunk : chunk + 5000])
    finally:
        await engine.dispose()


def in_memory(world: World, config: EngagementConfig) -> tuple[float, int]:
    """The baseline: derivation, scoring and every account timeline with no database."""
    started = time.perf_counter()
    by_session: dict[str, list[LogEvent]] = defaultdict(list)
    for e in world.events:
        by_session[e.session_id].append(e)
    people = {c["id"]: Person(c["name"], c["email"], c["account_id"]) for c in world.contacts}
    invited: dict[str, dict[str, Person]] = defaultdict(dict)
    for inv in world.invitations:
        invited[inv["session_id"]][inv["contact_id"]] = people[inv["contact_id"]]
    scores: dict[str, list[ScoredSession]] = defaultdict(list)
    for s in sorted(world.sessions, key=lambda s: s["ended_at"]):
        info = SessionInfo(s["id"], s["kind"], s["title"], s["starts_at"], s["duration_minutes"], "ended", s["ended_at"])
        report = attendance_report(info, by_session[s["id"]], invited[s["id"]], {}, world.now, config)
        for row in report.rows:
            if row.account_id is not None and row.score is not None and row.contact_id is not None:
                scores[row.account_id].append(
                    ScoredSession(s["id"], row.contact_id, s["kind"], report.ended_at, row.score, row.attended)
                )
    evaluations = 0
    for a in world.accounts:
        mine = scores.get(a["id"], [])
        ends = list({s.session_id: s.ended_at for s in mine}.values())
        times = account_timeline(a["created_at"], ends, world.now)
        snapshot = AccountSnapshot(a["id"], a["mrr"], a["signed_at"], tier=tier_for_ltv(a["ltv"], config.high_band,
                                   config.low_band), phase=Phase.ONBOARDING, tier_source=Source.ENGINE)
        replay(snapshot, mine, times, config)
        evaluations += len(times)
    return time.perf_counter() - started, evaluations


Row = dict[str, Any]


async def measure(args: argparse.Namespace) -> list[Row]:
    """The three runs on this process's `live` package: one row each (seconds, CPU seconds, load average)."""
    config = EngagementConfig()
    t0 = time.perf_counter()
    world = generate(args.accounts, args.days, config)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(url)
        await load(url, world)
        print(f"generated and loaded in {time.perf_counter() - t0:.1f} s; live from {Path(live.__file__).parent}",
              file=sys.stderr)
        load_before = os.getloadavg()[0]
        cpu = time.process_time()
        baseline_seconds, evaluations = in_memory(world, config)
        baseline_cpu = time.process_time() - cpu
        load_engine = os.getloadavg()[0]
        engine = create_engine(url)
        cpu = time.process_time()
        try:
            async with session_factory(engine)() as db:
                stats = await recompute(db, config, world.now)
                await db.commit()
        finally:
            await engine.dispose()
        recompute_cpu = time.process_time() - cpu
        load_recompute = os.getloadavg()[0]
        # The what-if: the same log replayed under a changed configuration, nothing written.
        engine = create_engine(url)
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            async with session_factory(engine)() as db:
                loaded = await load_world(db)
            result = preview(loaded, config.with_overrides({"low_band": 50_000.0}), world.now)
        finally:
            await engine.dispose()
        preview_seconds, preview_cpu = time.perf_counter() - wall, time.process_time() - cpu
        load_preview = os.getloadavg()[0]
        backend = url.split(":", 1)[0]
    common = {"accounts": len(world.accounts), "sessions": len(world.sessions), "events": len(world.events)}
    return [
        {"run": "engine alone, in memory (baseline)", "seconds": baseline_seconds, "cpu": baseline_cpu,
         "evaluations": evaluations, "load": [load_before, load_engine], **common},
        {"run": f"live scores recompute ({backend})", "seconds": stats.seconds, "cpu": recompute_cpu,
         "evaluations": stats.evaluations, "load": [load_engine, load_recompute], **common},
        {"run": f"what-if preview ({result['accounts']} would change)", "seconds": preview_seconds,
         "cpu": preview_cpu, "evaluations": evaluations, "load": [load_recompute, load_preview], **common},
    ]


def measure_commit(ref: str, args: argparse.Namespace) -> list[Row]:
    """The same measurement with the `live` package of commit `ref`: exported with `git archive`, put first on
    PYTHONPATH of a child running this very script (whose own directory holds no `live`)."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", ref, "live"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        command = [sys.executable, __file__, "--json", "--accounts", str(args.accounts), "--days", str(args.days)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        env = {**os.environ, "PYTHONPATH": tmp}
        child = subprocess.run(command, env=env, cwd=tmp, check=True, stdout=subprocess.PIPE)
    rows: list[Row] = json.loads(child.stdout)
    return rows


def table(rows: list[Row]) -> str:
    """Markdown, as docs/benchmarks.md keeps it. CPU seconds are this process's (all threads): on a shared
    machine the wall clock also counts the time other work held the cores; `load` is the 1-minute load
    average before and after the row ran."""
    header = ("| run | code | accounts | sessions | events | evaluations | seconds | cpu s | accounts/s (cpu) "
              "| load |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r.get('code', 'this checkout')} | {r['accounts']} | {r['sessions']} | {r['events']} "
            f"| {r['evaluations']} | {r['seconds']:.1f} | {r['cpu']:.1f} | {r['accounts'] / max(r['cpu'], 1e-9):.0f} "
            f"| {r['load'][0]:.1f}–{r['load'][1]:.1f} |"
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--database-url", help="an empty, migrated database (default: a fresh SQLite file)")
    parser.add_argument("--before", metavar="REF", help="first measure the code of this commit (e.g. 9ea5181)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (used by --before)")
    args = parser.parse_args()
    if args.before and args.database_url:
        parser.error("--before needs a fresh database per run: leave out --database-url")
    rows: list[Row] = []
    if args.before:
        rows += [{**r, "code": f"before ({args.before})"} for r in measure_commit(args.before, args)]
    now = await measure(args)
    if args.json:
        print(json.dumps(now))
        return
    rows += [{**r, "code": "after (this checkout)" if args.before else "this checkout"} for r in now]
    print(table(rows))


if __name__ == "__main__":
    asyncio.run(main())
