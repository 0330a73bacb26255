"""HTTP handlers for staff users (admin: list, create, change role or name, disable), API tokens (list, create,
revoke) and changing one's own password."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, StrictInt, StrictStr

from live.api.client import client_address
from live.api.parse import Body, json_body
from live.api.spec import ApiRoutes, Out
from live.auth import store
from live.auth.identity import Staff, require_staff
from live.auth.model import Action, Role, can
from live.auth.passwords import verify_password_async
from live.auth.store import (
    MAX_TOKEN_DAYS,
    TOKEN_DAYS,
    end_logins,
    issue_token,
    revoke_token,
    set_password,
    tokens_of,
    user_by_email,
)
from live.auth.throttle import LOGIN_THROTTLE
from live.db.tables import ApiToken, User
from live.errors import Forbidden, InvalidInput, NotFound, RateLimited
from live.isotime import iso
from live.typedefs import DB

api = ApiRoutes("auth")


class TokenIn(Body):
    email: StrictStr | None = Field(default=None, max_length=320, description="Admins only: another staff user.")
    name: StrictStr = Field(default="", max_length=200)
    expires_in_days: StrictInt = Field(default=TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)


class TokenOut(BaseModel):
    id: str
    email: str
    name: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class TokenCreated(BaseModel):
    id: str
    token: str = Field(description="Shown once; only its SHA-256 is stored.")
    name: str
    email: str
    expires_at: str | None


class PasswordIn(Body):
    # Not trimmed: a password is exactly what was typed.
    current_password: StrictStr = Field(min_length=1, max_length=1024)
    new_password: StrictStr = Field(min_length=8, max_length=1024)


def token_json(token: ApiToken, owner: User) -> dict[str, str | None]:
    return {
        "id": token.id,
        "email": owner.email,
        "name": token.name,
        "created_at": iso(token.created_at) or "",
        "expires_at": iso(token.expires_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }


def _is_admin(staff: Staff) -> bool:
    return can(staff.role, Action.MANAGE_USERS)


@api.get("/api/v1/tokens", response=list[TokenOut], summary="API tokens: an admin sees all, others their own")
async def list_tokens(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    async with request.app[DB]() as db:
        rows = await tokens_of(db, None if _is_admin(staff) else staff.id)
        return web.json_response([token_json(t, u) for t, u in rows])


@api.post("/api/v1/tokens", body=TokenIn, response=TokenCreated, status=201,
          summary="Create an API token (admins for any staff user, others for themselves)")
async def create_token(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    body = await json_body(request, TokenIn)
    async with request.app[DB]() as db:
        owner = await db.get(User, staff.id)
        if body.email is not None and body.email.strip().lower() != staff.email:
            if not _is_admin(staff):
                raise Forbidden(f"Role '{staff.role}' may create tokens only for itself, not for {body.email!r}.")
            owner = await user_by_email(db, body.email)
            if owner is None:
                raise InvalidInput(f"'email' has value {body.email!r}, which is not a staff user.")
        assert owner is not None
        row, token = await issue_token(db, owner, body.name, body.expires_in_days)
        await db.commit()
        return web.json_response(
            {"id": row.id, "token": token, "name": row.name, "email": owner.email, "expires_at": iso(row.expires_at)},
            status=201,
        )


@api.delete("/api/v1/tokens/{id}", status=204, summary="Revoke an API token; it stops working at once")
async def delete_token(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    async with request.app[DB]() as db:
        token = await db.get(ApiToken, request.match_info["id"])
        if token is None or (token.user_id != staff.id and not _is_admin(staff)):
            # Someone else's token is as good as missing: ids are not confirmed to those who may not see them.
            raise NotFound(f"API token {request.match_info['id']!r} does not exist.")
        await revoke_token(db, token)
        await db.commit()
    return web.Response(status=204)


@api.post("/api/v1/me/password", body=PasswordIn, status=204, errors=(429,),
          summary="Change your own password; every other login cookie of yours stops working")
async def change_password(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    body = await json_body(request, PasswordIn)
    throttle = request.app[LOGIN_THROTTLE]
    keys = {"account": staff.email, "address": client_address(request)}
    wait = await throttle.retry_after(keys)
    if wait:
        raise RateLimited(f"Too many wrong passwords. Try again in {wait} seconds.", retry_after=wait)
    async with request.app[DB]() as db:
        user = await db.get(User, staff.id)
        assert user is not None
        if not await verify_password_async(user.password_hash, body.current_password):
            await throttle.failed(keys)
            raise InvalidInput("'current_password' is not your current password.", code="wrong_password")
        await set_password(db, user, body.new_password)
        await end_logins(db, user.id, keep=staff.login_id)
        await db.commit()
    return web.Response(status=204)


# --- staff users (admin) ---------------------------------------------------------------------
class UserIn(Body):
    email: str = Field(min_length=3, max_length=320)
    role: Role
    name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=200)


class UserPatch(Body):
    role: Role | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    disabled: bool | None = None


class UserOut(Out):
    id: str
    email: str
    name: str
    role: str
    disabled: bool


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled_at is not None,
        "disabled_at": iso(user.disabled_at),
        "has_password": user.password_hash is not None,
        "created_at": iso(user.created_at),
    }


@api.get("/api/v1/users", response=list[UserOut], summary="Staff users (admin)")
async def list_users(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_USERS)
    async with request.app[DB]() as db:
        return web.json_response([user_json(u) for u in await store.list_users(db)])


@api.post("/api/v1/users", body=UserIn, response=UserOut, status=201, errors=(409,), summary="Create a staff user (admin)")
async def create_user(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_USERS)
    body = await json_body(request, UserIn)
    async with request.app[DB]() as db:
        user = await store.create_user(db, body.email, body.role, body.password, name=body.name)
        await db.commit()
        return web.json_response(user_json(user), status=201)


@api.patch("/api/v1/users/{id}", body=UserPatch, response=UserOut, errors=(409,), summary="Change a staff user's role or name, or disable them (admin)")
async def patch_user(request: web.Request) -> web.Response:
    staff = await require_staff(request, Action.MANAGE_USERS)
    body = await json_body(request, UserPatch)
    if not body.model_fields_set:
        raise InvalidInput("Nothing to change: send role, name or disabled.")
    for field in ("role", "name", "disabled"):
        if field in body.model_fields_set and getattr(body, field) is None:
            raise InvalidInput(f"'{field}' cannot be null.")
    async with request.app[DB]() as db:
        user = await store.get_user(db, request.match_info["id"])
        await store.update_user(db, staff.id, user, role=body.role, name=body.name, disabled=body.disabled)
        await db.commit()
        return web.json_response(user_json(user))
