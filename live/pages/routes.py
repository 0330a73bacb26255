"""Page handlers: sign-in and the today page here; accounts, sessions and rooms in their own modules.

Every module adds its handlers to the one table in `live.pages.base`; importing them here is what
registers them (`live.app` adds `routes`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from live.accounts import store as accounts
from live.api.client import client_address
from live.auth.identity import LOGIN_COOKIE, csrf_ok, current_staff, login_claim, set_login_cookie
from live.auth.store import authenticate, end_logins, start_login
from live.auth.throttle import LOGIN_THROTTLE
from live.db.tables import User
from live.pages import accounts as _accounts_pages  # noqa: F401  (registers its routes)
from live.pages import admin as _admin_page  # noqa: F401
from live.pages import rooms as _room_pages  # noqa: F401
from live.pages import sessions as _session_pages  # noqa: F401
from live.pages import settings as _settings_pages  # noqa: F401
from live.pages.base import render, routes, safe_next, staff_or_login
from live.pages.sessions import KIND_LABELS
from live.sessions import store as sessions
from live.typedefs import DB, SETTINGS

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
    email = str(form.get("email", "")).strip()[:320]
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "/")))
    if not csrf_ok(request, str(form.get("csrf_token", ""))):
        return _login_page(request, 400, "Your form expired. Please try again.", email, next_path)
    if not email or not password:
        return _login_page(request, 400, "Enter your email and password.", email, next_path)
    throttle = request.app[LOGIN_THROTTLE]
    keys = {"account": email.lower(), "address": client_address(request)}
    wait = await throttle.retry_after(keys)
    if wait:
        response = _login_page(
            request, 429, f"Too many failed sign-ins. Try again in {wait} second{'s' if wait != 1 else ''}.", email,
            next_path,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    async with request.app[DB]() as db:
        user = await authenticate(db, email, password)
        if user is None:
            await throttle.failed(keys)
            return _login_page(request, 401, "That email and password do not match a staff account.", email, next_path)
        await throttle.succeeded(keys)
        login_session = await start_login(db, user, timedelta(days=request.app[SETTINGS].login_days))
        await db.commit()
    redirect = web.HTTPFound(next_path)
    set_login_cookie(request, redirect, user.id, login_session.id)
    raise redirect


def _login_page(request: web.Request, status: int, error: str, email: str, next_path: str) -> web.Response:
    response = render(request, "login.html", None, error=error, email=email, next=next_path)
    response.set_status(status)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    if not csrf_ok(request, str(form.get("csrf_token", ""))):
        raise web.HTTPBadRequest(text="Your form expired. Please go back and try again.")
    # The cookie stops working everywhere at once, even where a copy of it survives the browser's deletion.
    claim = login_claim(request)
    if claim is not None:
        async with request.app[DB]() as db:
            await end_logins(db, claim.user_id, only=claim.login_id)
            await db.commit()
    response = web.HTTPFound("/login")
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response


@routes.get("/")
async def today(request: web.Request) -> web.Response:
    staff = await staff_or_login(request)
    now = datetime.now(UTC)
    async with request.app[DB]() as db:
        open_sessions = [s for s in await sessions.list_sessions(db) if s.status in ("scheduled", "live")]
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


