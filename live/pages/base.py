"""What every page handler shares: the one route table, sign-in redirects, role checks and the template context."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp_jinja2
from aiohttp import web

from live.auth.identity import Staff, csrf_token, current_staff
from live.auth.model import Action, can, check_can

routes = web.RouteTableDef()


async def staff_or_login(request: web.Request, action: Action | None = None) -> Staff:
    """The signed-in staff member; anyone else is sent to /login and back here afterwards."""
    staff = await current_staff(request)
    if staff is None:
        raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
    if action is not None:
        check_can(staff.role, action)  # a Forbidden becomes the friendly 403 page
    return staff


def base_context(request: web.Request, staff: Staff | None, **extra: Any) -> dict[str, Any]:
    return {
        "staff": staff,
        "csrf_token": csrf_token(request),
        "can": (lambda action: staff is not None and can(staff.role, Action(action))),
        "now": datetime.now(UTC),
        **extra,
    }


def render(request: web.Request, template: str, staff: Staff | None, **extra: Any) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, base_context(request, staff, **extra))


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this site, else "/": a sign-in must never send someone to another site.

    Browsers are lenient: they drop tabs and newlines inside URLs, read `\\` as `/`, and take `//host` (or
    `/\\host`) as another host. So only a plain path is kept: one leading `/`, no backslash, no control
    character or whitespace, nothing that decodes to `//` or a backslash, no scheme or host.
    """
    if not value or not value.startswith("/") or len(value) > 2000:
        return "/"
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        return "/"
    # Percent-encoded forms of the same tricks, in case something on the way decodes them.
    for candidate in (value, unquote(value), unquote(unquote(value))):
        if candidate.startswith("//") or "\\" in candidate:
            return "/"
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return "/"
    return value
