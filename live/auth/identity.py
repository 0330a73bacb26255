"""Who is asking, at the HTTP edge: a bearer API token or the signed login cookie, and CSRF."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from live.auth.model import Action, Role, check_can
from live.auth.store import user_for_token
from live.db.tables import User
from live.errors import Forbidden, Unauthenticated
from live.typedefs import DB, SETTINGS

LOGIN_COOKIE = "live_login"
CSRF_COOKIE = "live_csrf"
LOGIN_MAX_AGE = 14 * 24 * 3600
_STAFF_KEY: web.RequestKey[Staff | None] = web.RequestKey("live.staff")
_CSRF_SEED_KEY = web.RequestKey("live.csrf_seed", str)


@dataclass(frozen=True)
class Staff:
    id: str
    email: str
    name: str
    role: Role
    via_cookie: bool = False

    @classmethod
    def of(cls, user: User, via_cookie: bool = False) -> Staff:
        return cls(id=user.id, email=user.email, name=user.name, role=Role(user.role), via_cookie=via_cookie)


def _serializer(request: web.Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app[SETTINGS].secret_key, salt=salt)


def login_cookie_value(request: web.Request, user_id: str) -> str:
    return _serializer(request, "login").dumps({"u": user_id})


def set_login_cookie(request: web.Request, response: web.StreamResponse, user_id: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        login_cookie_value(request, user_id),
        max_age=LOGIN_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].secure_cookies,
        path="/",
    )


def _cookie_user_id(request: web.Request) -> str | None:
    raw = request.cookies.get(LOGIN_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request, "login").loads(raw, max_age=LOGIN_MAX_AGE)
    except BadSignature:
        return None
    return data.get("u") if isinstance(data, dict) else None


async def current_staff(request: web.Request) -> Staff | None:
    if _STAFF_KEY in request:
        staff: Staff | None = request[_STAFF_KEY]
        return staff
    staff = None
    header = request.headers.get("Authorization", "")
    async with request.app[DB]() as db:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
            user = await user_for_token(db, token.strip())
            if user is None:
                raise Unauthenticated("That API token is not valid.")
            await db.commit()
            staff = Staff.of(user)
        else:
            user_id = _cookie_user_id(request)
            if user_id is not None:
                user = (await db.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
                # A disabled user's cookie stops working at once, not when it expires.
                if user is not None and user.disabled_at is None:
                    staff = Staff.of(user, via_cookie=True)
    request[_STAFF_KEY] = staff
    return staff


async def require_staff(request: web.Request, action: Action | None = None) -> Staff:
    staff = await current_staff(request)
    if staff is None:
        raise Unauthenticated("Sign in, or send 'Authorization: Bearer <token>'.")
    if action is not None:
        check_can(staff.role, action)
    # A cookie-authenticated write from script must prove it came from our own pages.
    if staff.via_cookie and request.method not in ("GET", "HEAD", "OPTIONS") and request.path.startswith("/api/"):
        if not csrf_ok(request, request.headers.get("X-CSRF-Token", "")):
            raise Forbidden("Missing or wrong X-CSRF-Token header.", code="csrf")
    return staff


def csrf_seed(request: web.Request) -> str:
    """The per-browser random value the CSRF token is signed over (double-submit cookie)."""
    seed = request.cookies.get(CSRF_COOKIE) or request.get(_CSRF_SEED_KEY)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request[_CSRF_SEED_KEY] = seed
    return str(seed)


def csrf_token(request: web.Request) -> str:
    return _serializer(request, "csrf").dumps(csrf_seed(request))


def csrf_ok(request: web.Request, token: str) -> bool:
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not token:
        return False
    try:
        signed = _serializer(request, "csrf").loads(token, max_age=LOGIN_MAX_AGE)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, seed)


@web.middleware
async def csrf_cookie_middleware(request: web.Request, handler: object) -> web.StreamResponse:
    """Sets the CSRF seed cookie on the response when a page minted one."""
    response: web.StreamResponse = await handler(request)  # type: ignore[operator]
    seed = request.get(_CSRF_SEED_KEY)
    if seed and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, seed, httponly=True, samesite="Lax", secure=request.app[SETTINGS].secure_cookies, path="/"
        )
    return response
