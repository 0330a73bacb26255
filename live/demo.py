"""`live demo`: idempotent demo data (staff, accounts in every tier and phase, one session of each kind)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.accounts import store as accounts
from live.accounts.model import Health, Phase, Tier
from live.auth.store import create_token, create_user, user_by_email
from live.db.engine import create_engine, session_factory, upgrade
from live.db.tables import Account, Contact, LiveSession
from live.engagement.config import EngagementConfig
from live.mail.triggers import queue_seeded_invitations
from live.sessions import store as sessions
from live.sessions.invitations import join_url
from live.sessions.model import SessionKind
from live.settings import Settings

STAFF = [
    ("admin@live.test", "admin", "Ada Admin", "admin-pass-1"),
    ("host@live.test", "host", "Hugo Host", "host-pass-1"),
    ("csm@live.test", "csm", "Carla CSM", "csm-pass-1"),
]

# name, plan, MRR, phase, health: a dozen accounts across every tier and phase.
ACCOUNTS: list[tuple[str, str, float, Phase, Health]] = [
    ("Globex", "enterprise", 25_000, Phase.UTILIZATION, Health.HEALTHY),
    ("Initech", "enterprise", 18_000, Phase.ESTABLISHMENT, Health.NEUTRAL),
    ("Umbrella", "enterprise", 16_000, Phase.SELF_DRIVING, Health.HEALTHY),
    ("Stark Industries", "enterprise", 30_000, Phase.ONBOARDING, Health.NEUTRAL),
    ("Acme", "growth", 2_500, Phase.ONBOARDING, Health.NEUTRAL),
    ("Hooli", "growth", 4_000, Phase.ESTABLISHMENT, Health.AT_RISK),
    ("Vandelay", "growth", 1_800, Phase.UTILIZATION, Health.HEALTHY),
    ("Wonka", "growth", 3_200, Phase.SELF_DRIVING, Health.HEALTHY),
    ("Bluth Co", "starter", 300, Phase.ONBOARDING, Health.NEUTRAL),
    ("Dunder Mifflin", "starter", 450, Phase.ESTABLISHMENT, Health.NEUTRAL),
    ("Pied Piper", "starter", 900, Phase.UTILIZATION, Health.NEUTRAL),
    ("Soylent", "starter", 600, Phase.SELF_DRIVING, Health.HEALTHY),
]


async def seed(settings: Settings) -> dict[str, Any]:
    if settings.is_sqlite:
        await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as db:
            created = await _seed(db, settings)
            await db.commit()
            summary = await _summary(db, settings)
    finally:
        await engine.dispose()
    _print(summary, created)
    return summary


async def _seed(db: AsyncSession, settings: Settings) -> bool:
    if await user_by_email(db, STAFF[0][0]) is not None:
        return False
    config = EngagementConfig().with_overrides(settings.engagement)
    users = {}
    for email, role, name, password in STAFF:
        users[role] = await create_user(db, email, role, password, name)
    now = datetime.now(UTC)
    for index, (name, plan, mrr, phase, health) in enumerate(ACCOUNTS):
        account = await accounts.create_account(
            db, config, name=name, plan=plan, mrr=mrr, signed_at=now - timedelta(days=20 + 30 * index),
            csm_email=users["csm"].email, actor="demo",
        )
        if phase is not Phase.ONBOARDING:
            accounts.record_change(
                db, account, "phase", account.phase, phase.value, rule="demo_seed",
                reason="Demo data: seeded in this phase.", config_version=config.version, actor="demo",
            )
            account.phase = phase.value
        # Every seeded value that differs from what creation gave has its history row, so the account
        # page's history agrees with its tier, phase and health.
        if health.value != account.health:
            accounts.record_change(
                db, account, "health", account.health, health.value, rule="demo_seed",
                reason="Demo data: seeded with this health.", config_version=config.version, actor="demo",
            )
        account.health = health.value
        if health is Health.AT_RISK:
            account.engine_state = {"at_risk": True}
            raised = accounts.engine_tier(account, config).value
            if raised != account.tier:
                accounts.record_change(
                    db, account, "tier", account.tier, raised, rule="demo_seed",
                    reason="Demo data: seeded at risk, so the tier is raised one step.",
                    config_version=config.version, actor="demo",
                )
            account.tier = raised
        slug = name.lower().replace(" ", "")
        for person in ("Alex", "Sam"):
            await accounts.add_contact(db, account, f"{person} {name}", f"{person.lower()}@{slug}.test")
    tomorrow = (now + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    webinar = await sessions.create_session(
        db, kind=SessionKind.WEBINAR, title="What's new this quarter", starts_at=tomorrow,
        duration_minutes=45, host=users["host"],
    )
    seminar = await sessions.create_session(
        db, kind=SessionKind.WELCOME_SEMINAR, title="Welcome to the product", starts_at=tomorrow + timedelta(days=1),
        duration_minutes=30, host=users["host"],
    )
    one_on_one = await sessions.create_session(
        db, kind=SessionKind.ONE_ON_ONE, title="Hooli check-in", starts_at=tomorrow + timedelta(hours=2),
        duration_minutes=30, host=users["csm"],
    )
    every = (await db.execute(select(Contact))).scalars().all()
    await sessions.invite(db, settings.secret_key, webinar, every)
    onboarding = (
        await db.execute(select(Contact).join(Account).where(Account.phase == Phase.ONBOARDING.value))
    ).scalars().all()
    await sessions.invite(db, settings.secret_key, seminar, onboarding, reason="onboarding")
    hooli = (await db.execute(select(Contact).join(Account).where(Account.name == "Hooli"))).scalars().all()
    await sessions.invite(db, settings.secret_key, one_on_one, hooli)
    # Their invitation mails, queued as the app would: `make run` writes them under var/mail/ and lists them on /mail.
    await db.flush()
    for session, people in ((webinar, every), (seminar, onboarding), (one_on_one, hooli)):
        host = users["csm"] if session is one_on_one else users["host"]
        await queue_seeded_invitations(db, settings, session, host, people)
    await create_token(db, users["admin"])
    return True


async def _summary(db: Any, settings: Settings) -> dict[str, Any]:
    demo_sessions = (
        await db.execute(select(LiveSession).where(LiveSession.title.in_(
            ["What's new this quarter", "Welcome to the product", "Hooli check-in"]
        )).order_by(LiveSession.starts_at))
    ).scalars().all()
    out: dict[str, Any] = {"staff": [(e, r, p) for e, r, _n, p in STAFF], "sessions": []}
    for session in demo_sessions:
        invited = await sessions.invitations_of(db, session.id)
        links = [(c.name, join_url(settings.public_url, i.token)) for i, c in invited[:2]]
        out["sessions"].append(
            {"title": session.title, "kind": session.kind, "host": f"{settings.public_url}/sessions/{session.id}/live",
             "links": links, "invited": len(invited)}
        )
    out["tiers"] = {t.value: 0 for t in Tier}
    for account in (await db.execute(select(Account))).scalars():
        out["tiers"][account.tier] = out["tiers"].get(account.tier, 0) + 1
    return out


def _print(summary: dict[str, Any], created: bool) -> None:
    print("Demo data " + ("created." if created else "already present (nothing changed)."))
    print("\nStaff logins (sign in at /login):")
    for email, role, password in summary["staff"]:
        print(f"  {role:<6} {email:<18} password: {password}")
    print("\nSessions:")
    for session in summary["sessions"]:
        print(f"  {session['title']} ({session['kind'].replace('_', ' ')}, {session['invited']} invited)")
        print(f"    host console: {session['host']}")
        for name, link in session["links"]:
            print(f"    join as {name}: {link}")
    print("\nAccounts by tier: " + ", ".join(f"{k} {v}" for k, v in summary["tiers"].items()))
