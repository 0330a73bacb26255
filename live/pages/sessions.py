"""The sessions pages: the schedule with its form, and one session's invitations, attendance, polls and report."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select

from live.accounts import store as accounts
from live.auth.model import Action
from live.db.tables import Account, User
from live.engagement import store as engagement_store
from live.engagement.whatif import latest_config
from live.mail import store as mail_store
from live.pages import reports
from live.pages.base import render, routes, staff_or_login
from live.polls.writer import POLL_WRITER
from live.sessions import store as sessions
from live.sessions.invitations import join_url
from live.sessions.model import SessionKind
from live.typedefs import DB, ENGAGEMENT, SETTINGS

KIND_LABELS = {
    SessionKind.WEBINAR.value: "Webinar",
    SessionKind.WELCOME_SEMINAR.value: "Welcome seminar",
    SessionKind.ONE_ON_ONE.value: "One-on-one",
}


@routes.get("/sessions")
async def session_list(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.READ_SESSIONS)
    async with request.app[DB]() as db:
        rows = list(await sessions.list_sessions(db))
        hosts = {u.id: u for u in (await db.execute(select(User).order_by(User.name, User.email))).scalars()}
        all_accounts = list(await accounts.list_accounts(db))
        directory = await accounts.directory(db)
    upcoming = [s for s in rows if s.status in ("scheduled", "live")]
    past = sorted((s for s in rows if s.status in ("ended", "cancelled")), key=lambda s: s.starts_at, reverse=True)
    return render(
        request,
        "sessions.html",
        staff,
        upcoming=upcoming,
        past=past,
        hosts=hosts,
        kinds=KIND_LABELS,
        accounts=all_accounts,
        directory=directory,
    )


@routes.get("/sessions/{id}")
async def session_page(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.READ_SESSIONS)
    settings = request.app[SETTINGS]
    await request.app[POLL_WRITER].flush()  # this process's queued votes count in the results
    async with request.app[DB]() as db:
        session = await sessions.get_session(db, request.match_info["id"])
        host = await db.get(User, session.host_id)
        invitations = [
            (invitation, contact, join_url(settings.public_url, invitation.token))
            for invitation, contact in await sessions.invitations_of(db, session.id)
        ]
        account_names = dict((await db.execute(select(Account.id, Account.name))).tuples().all())
        mail_states = await mail_store.invitation_states(db, session.id)
        # The same report as `GET /api/v1/sessions/{id}/attendance`.
        report = await engagement_store.build_report(db, session, datetime.now(UTC), await latest_config(db, request.app[ENGAGEMENT]))
        poll_results = await reports.polls(db, session.id)
        open_for_invites = session.status in ("scheduled", "live")
        all_accounts = list(await accounts.list_accounts(db)) if open_for_invites else []
        directory = await accounts.directory(db) if open_for_invites else []
        warnings = await sessions.warnings_for(db, session, datetime.now(UTC))
        # Hosts a scheduled session can be handed to: active staff (a disabled user cannot run it).
        hosts = list((await db.execute(select(User).where(User.disabled_at.is_(None)).order_by(User.name, User.email))).scalars())
    rows = sorted(report.rows, key=lambda r: (r.role != "attendee", r.name.lower()))
    present = [r for r in rows if r.role == "attendee" and r.present_seconds > 0]
    invited = [r for r in rows if r.role == "attendee"]
    return render(
        request,
        "session.html",
        staff,
        session=session,
        host=host,
        kinds=KIND_LABELS,
        invitations=invitations,
        mail_states=mail_states,
        account_names=account_names,
        attendance=rows,
        present_count=len(present),
        attendee_count=len(invited),
        polls=poll_results,
        accounts=all_accounts,
        directory=directory,
        warnings=warnings,
        hosts=hosts,
        invited_ids={contact.id for _, contact, _ in invitations},
        duration=reports.duration,
    )
