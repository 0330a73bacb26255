"""Page handlers: they read what a page shows and render its template; the room pages then go live over Socket.IO."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from live.auth.identity import (
    LOGIN_COOKIE,
    Staff,
    csrf_ok,
    csrf_token,
    current_staff,
    set_login_cookie,
)
from live.auth.store import authenticate
from live.db.tables import Contact, LiveSession
from live.errors import NotFound
from live.sessions import store as sessions
from live.sessions.invitations import read_join_token
from live.typedefs import DB, SETTINGS

routes = web.RouteTableDef()


async def staff_or_login(request: web.Request) -> Staff:
    staff = await current_staff(request)
    if staff is None:
        raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
    return staff


def base_context(request: web.Request, staff: Staff | None, **extra: Any) -> dict[str, Any]:
    return {"staff": staff, "csrf_token": csrf_token(request), **extra}


def safe_next(value: str | None) -> str:
    # Only local paths: never redirect a signed-in user to another site.
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template(
        "login.html", request, base_context(request, None, error=None, email="", next=safe_next(request.query.get("next")))
    )


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
    response = aiohttp_jinja2.render_template(
        "login.html", request, base_context(request, None, error=error, email=email, next=next_path)
    )
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
    async with request.app[DB]() as db:
        upcoming = [s for s in await sessions.list_sessions(db) if s.status != "ended"]
    return aiohttp_jinja2.render_template("today.html", request, base_context(request, staff, sessions=upcoming))


@routes.get("/join/{token}")
async def join(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    token = request.match_info["token"]
    claim = read_join_token(settings.secret_key, token)
    async with request.app[DB]() as db:
        invitation = await sessions.invitation_by_token(db, token) if claim else None
        if invitation is None:
            raise NotFound(
                "This join link is not valid. Check that you copied the whole link, or ask your host for a new one."
            )
        session = await db.get(LiveSession, invitation.session_id)
        contact = await db.get(Contact, invitation.contact_id)
    return aiohttp_jinja2.render_template(
        "join.html", request, base_context(request, None, session=session, contact=contact, token=token)
    )
