"""Page handlers: sign-in and the today page here; accounts, sessions and rooms in their own modules.

Every module adds its handlers to the one table in `live.pages.base`; importing them here is what
registers them (`live.app` adds `routes`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from live.accounts import store as accounts
from live.auth.identity import LOGIN_COOKIE, csrf_ok, current_staff, set_login_cookie
from live.auth.store import authenticate
from live.db.tables import User
from live.pages import accounts as _accounts_pages  # noqa: F401  (registers its routes)
from live.pages import rooms as _room_pages  # noqa: F401
from live.pages import sessions as _session_pages  # noqa: F401
from live.pages import settings as _settings_pages  # noqa: F401
from live.pages.base import render, routes, safe_next, staff_or_login
from live.pages.sessions import KIND_LABELS
from live.sessions import store as sessions
from live.typedefs import DB

__all__ = ["routes"]


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    next_path = safe_next(request.query.get("next"))
    if await current_staff(request) is not None:
        raise web.HTTPFound(next_path)
    return render(request, "login.html", None, error=None, email="", next=next_path)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "/")))
    error = None
    if not csrf_ok(request, str(form.get("csrf_token", ""))):
        error = "Your form expired. Please try again."
    elif not email or not password:
        error = "Enter your email and password."
    else:
        async with request.app[DB]() as db:
            user = await authenticate(db, email, password)
        if user is not None:
            redirect = web.HTTPFound(next_path)
            set_login_cookie(request, redirect, user.id)
            raise redirect
        error = "That email and password do not match a staff account."
    response = render(request, "login.html", None, error=error, email=email, next=next_path)
    response.set_status(401 if error and "match" in error else 400)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    if not csrf_ok(request, str(form.get("csrf_token", ""))):
        raise web.HTTPBadRequest(text="Your form expired. Please go back and try again.")
    response = web.HTTPFound("/login")
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response


@routes.get("/")
async def today(request: web.Request) -> web.Response:
    staff = await staff_or_login(request)
    now = datetime.now(UTC)
    async with request.app[DB]() as db:
        open_sessions = [s for s in await sessions.list_sessions(db) if s.status != "ended"]
        hosts = {u.id: u for u in (await db.execute(select(User))).scalars()}
        everyone = await accounts.list_accounts(db)
        names = {a.id: a.name for a in everyone}
    live = [s for s in open_sessions if s.status == "live"]
    proposed = [s for s in open_sessions if s.status == "scheduled" and s.proposed]
    # "Upcoming": the coming week; anything further out is on /sessions.
    upcoming = [
        s for s in open_sessions if s.status == "scheduled" and not s.proposed and s.starts_at <= now + timedelta(days=7)
    ]
    at_risk = sorted(
        (a for a in everyone if a.health == "at_risk" or (a.engine_state or {}).get("at_risk")),
        key=lambda a: (a.engagement is not None, a.engagement or 0.0),
    )
    return render(
        request,
        "today.html",
        staff,
        live=live,
        upcoming=upcoming,
        proposed=proposed,
        at_risk=at_risk,
        hosts=hosts,
        account_names=names,
        kinds=KIND_LABELS,
        later_count=len(open_sessions) - len(live) - len(proposed) - len(upcoming),
    )


