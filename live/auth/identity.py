"""Who is asking, at the HTTP edge: a bearer API token or the signed login cookie, and CSRF."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler
from itsdangerous import BadSignature, URLSafeTimedSerializer

from live.auth.model import Action, Role, check_can
from live.auth.store import user_for_login, user_for_token
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
    # The login session (`login_sessions` row) the cookie names; None for an API token.
    login_id: str | None = None

    @classmethod
    def of(cls, user: User, login_id: str | None = None) -> Staff:
        return cls(
            id=user.id, email=user.email, name=user.name, role=Role(user.role), via_cookie=login_id is not None,
            login_id=login_id,
        )


@dataclass(frozen=True)
class LoginClaim:
    user_id: str
    login_id: str


def _serializer(request: web.Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app[SETTINGS].secret_key, salt=salt)


def read_login_cookie(secret: str, raw: str) -> LoginClaim | None:
    """The signed (user, login session) pair in a `live_login` cookie; the database says if it still holds."""
    if not raw or len(raw) > 500:
        return None
    try:
        data = URLSafeTimedSerializer(secret, salt="login").loads(raw, max_age=LOGIN_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("s"), str):
        return None  # also a cookie from before login sessions existed: sign in again
    return LoginClaim(data["u"], data["s"])


def set_login_cookie(request: web.Request, response: web.StreamResponse, user_id: str, login_id: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        _serializer(request, "login").dumps({"u": user_id, "s": login_id}),
        max_age=LOGIN_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].secure_cookies,
        path="/",
    )


def login_claim(request: web.Request) -> LoginClaim | None:
    return read_login_cookie(request.app[SETTINGS].secret_key, request.cookies.get(LOGIN_COOKIE, ""))


async def current_staff(request: web.Request) -> Staff | None:
    if _STAFF_KEY in request:
        staff: Staff | None = request[_STAFF_KEY]
        return staff
    staff = None
    header = request.headers.get("Authorization", "")
    async with request.app[DB]() as db:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
                raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
            user = await user_for_token(db, token.strip())
            if user is None:
                raise Unauthenticated("That API token is not valid (unknown, expired or revoked).")
            await db.commit()
            staff = Staff.of(user)
        else:
            claim = login_claim(request)
            if claim is not None:
                user = await user_for_login(db, claim.user_id, claim.login_id)
                # A disabled user's cookie stops working at once, not when it expires.
                if user is not None and user.disabled_at is None:
                    staff = Staff.of(user, login_id=claim.login_id)
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
async def csrf_cookie_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets the CSRF seed cookie on the response when a page minted one."""
    response = await handler(request)
    seed = request.get(_CSRF_SEED_KEY)
    if seed and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, seed, httponly=True, samesite="Lax", secure=request.app[SETTINGS].secure_cookies, path="/"
        )
    return response
