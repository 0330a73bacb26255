"""What every page handler shares: the one route table, sign-in redirects, role checks and the template context."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

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
    # Only local paths: never redirect a signed-in user to another site.
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"
