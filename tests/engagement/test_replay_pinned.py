"""The replay's output is pinned: speed work must not move a single bit of it.

A fixed simulated history (the generator of bench/recompute.py, 40 accounts over 200 days: about 60
sessions with real event logs) is scored and replayed, in memory and through `recompute` against a real
database, and each session's scores and each account's outcome (every change with its reason, numbers and
evidence, the final tier, phase, health, engagement and engine state) is reduced to a digest. The digests
in `replay_pinned.json` were made by the code before the speed work (commit 9ea5181), from an export
of that commit with this file copied in (run there, so that its `live` is imported):

    git archive 9ea5181 | tar -x -C /tmp/old && cp tests/engagement/test_replay_pinned.py /tmp/old/tests/engagement/
    (cd /tmp/old && $OLDPWD/.venv/bin/python -m tests.engagement.test_replay_pinned) > tests/engagement/replay_pinned.json

so a failure names the sessions and accounts whose outcome changed. Floats are compared by `repr`:
a different rounding in the last bit fails too. The configuration's version is recorded as "current"
(it is a digest of every setting, so a new setting would change it without changing the replay).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.recompute import World, generate, load
from live.accounts.model import Phase, Source, tier_for_ltv
from live.db.engine import create_engine, session_factory, upgrade
from live.db.tables import Account, AccountHistory, SessionScore
from live.engagement.config import EngagementConfig
from live.engagement.engine import AccountSnapshot, EngineState
from live.engagement.model import ScoredSession
from live.engagement.recompute import account_timeline, recompute, replay
from live.engagement.report import Person, SessionInfo, attendance_report
from live.events.model import LogEvent

PINNED = Path(__file__).with_name("replay_pinned.json")
ACCOUNTS, DAYS = 40, 200
CONFIG = EngagementConfig()


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def _version(version: str, config: EngagementConfig) -> str:
    """"current" for the running configuration's version: a setting added later (with a default that
    changes no score) changes the digest of the configuration, not the replay."""
    return "current" if version == config.version else version


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def in_memory(world: World, config: EngagementConfig) -> dict[str, str]:
    """session id -> digest of its scores, account id -> digest of its replay (no database)."""
    by_session: dict[str, list[LogEvent]] = defaultdict(list)
    for e in world.events:
        by_session[e.session_id].append(e)
    people = {c["id"]: Person(c["name"], c["email"], c["account_id"]) for c in world.contacts}
    invited: dict[str, dict[str, Person]] = defaultdict(dict)
    for inv in world.invitations:
        invited[inv["session_id"]][inv["contact_id"]] = people[inv["contact_id"]]
    out: dict[str, str] = {}
    scores: dict[str, list[ScoredSession]] = defaultdict(list)
    for s in sorted(world.sessions, key=lambda s: s["ended_at"]):
        info = SessionInfo(s["id"], s["kind"], s["title"], s["starts_at"], s["duration_minutes"], "ended", s["ended_at"])
        report = attendance_report(info, by_session[s["id"]], invited[s["id"]], {}, world.now, config)
        out[f"session {s['id']}"] = digest([
            [row.participant_id, row.contact_id, row.account_id, repr(row.present_seconds), repr(row.focused_seconds),
             repr(row.camera_seconds), row.chat_messages, row.questions, row.poll_answers,
             row.polls_open_while_present, row.reactions, None if row.score is None else repr(row.score),
             {k: {n: repr(v) for n, v in c.items()} for k, c in row.components.items()}, row.attended, row.no_show,
             row.note]
            for row in report.rows
        ])
        for row in report.rows:
            if row.account_id is not None and row.score is not None and row.contact_id is not None:
                scores[row.account_id].append(
                    ScoredSession(s["id"], row.contact_id, s["kind"], report.ended_at, row.score, row.attended)
                )
    for a in world.accounts:
        mine = scores.get(a["id"], [])
        ends = list({s.session_id: s.ended_at for s in mine}.values())
        times = account_timeline(a["created_at"], ends, world.now)
        snapshot = AccountSnapshot(a["id"], a["mrr"], a["signed_at"], tier=tier_for_ltv(a["ltv"], config.high_band,
                                   config.low_band), phase=Phase.ONBOARDING, tier_source=Source.ENGINE)
        final, results = replay(snapshot, mine, times, config)
        changes = [
            [_time(at), c.field, c.old, c.new, c.rule, c.reason, {k: repr(v) for k, v in c.numbers.items()},
             c.evidence, _version(c.config_version, config)]
            for at, result in results
            for c in result.changes
        ]
        last = results[-1][1] if results else None
        out[f"account {a['id']}"] = digest({
            "changes": changes,
            "final": [final.tier.value, final.phase.value, final.health.value, final.tier_source.value,
                      EngineState.from_json(final.engine_state).to_json()],
            "last": None if last is None else [repr(last.engagement), repr(last.ltv), last.at_risk],
        })
    return out


async def through_the_database(world: World, url: str, config: EngagementConfig) -> dict[str, str]:
    """account id -> digest of what `recompute` left in the database: fields, engine history, scores."""
    await load(url, world)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            await recompute(db, config, world.now)
            await db.commit()
        async with session_factory(engine)() as db:
            accounts = (await db.execute(select(Account).order_by(Account.id))).scalars().all()
            history: dict[str, list[Any]] = defaultdict(list)
            for h in (await db.execute(select(AccountHistory).order_by(AccountHistory.id))).scalars():
                history[h.account_id].append(
                    [_time(h.at), h.field, h.old, h.new, h.source, h.rule, h.reason,
                     {k: repr(v) for k, v in h.numbers.items()}, h.evidence, _version(h.config_version, config), h.actor]
                )
            scores: dict[str, list[Any]] = defaultdict(list)
            for s in (await db.execute(select(SessionScore))).scalars():
                scores[s.account_id].append(
                    [s.session_id, s.contact_id, s.kind, _time(s.ended_at), repr(s.score), s.attended,
                     json.dumps(s.components, sort_keys=True), _version(s.config_version, config)]
                )
    finally:
        await engine.dispose()
    return {
        f"stored {a.id}": digest({
            "fields": [a.tier, a.tier_source, a.phase, a.phase_source, a.health, repr(a.engagement), repr(a.ltv),
                       a.engine_state],
            "history": history[a.id],
            "scores": sorted(scores[a.id]),
        })
        for a in accounts
    }


def world() -> World:
    return generate(ACCOUNTS, DAYS, CONFIG)


def pinned(prefix: str) -> dict[str, str]:
    return {k: v for k, v in json.loads(PINNED.read_text()).items() if k.startswith(prefix)}


def differing(now: dict[str, str], then: dict[str, str]) -> list[str]:
    return sorted(k for k in now.keys() | then.keys() if now.get(k) != then.get(k))


def test_the_in_memory_replay_of_a_fixed_history_is_bit_for_bit_what_it_was() -> None:
    now = in_memory(world(), CONFIG)
    assert len(now) == ACCOUNTS + 57  # 57 sessions
    then = pinned("session ") | pinned("account ")
    assert differing(now, then) == []


async def test_the_recompute_of_a_fixed_history_stores_exactly_what_it_did(database_url: str) -> None:
    now = await through_the_database(world(), database_url, CONFIG)
    assert len(now) == ACCOUNTS
    assert differing(now, pinned("stored ")) == []


async def _make() -> dict[str, str]:
    out = in_memory(world(), CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'pinned.db'}"
        await upgrade(url)
        out |= await through_the_database(world(), url, CONFIG)
    return out


if __name__ == "__main__":
    json.dump(asyncio.run(_make()), sys.stdout, indent=1, sort_keys=True)
    print()
