"""HTTP handlers for staff users: list, create, change role or name, disable (admin only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from live.isotime import iso
from live.api.parse import Body, json_body
from live.auth import store
from live.auth.identity import require_staff
from live.auth.model import Action, Role
from live.db.tables import User
from live.errors import InvalidInput
from live.typedefs import DB

routes = web.RouteTableDef()


class UserIn(Body):
    email: str = Field(min_length=3, max_length=320)
    role: Role
    name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=200)


class UserPatch(Body):
    role: Role | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    disabled: bool | None = None


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


@routes.get("/api/v1/users")
async def list_users(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_USERS)
    async with request.app[DB]() as db:
        return web.json_response([user_json(u) for u in await store.list_users(db)])


@routes.post("/api/v1/users")
async def create_user(request: web.Request) -> web.Response:
    await require_staff(request, Action.MANAGE_USERS)
    body = await json_body(request, UserIn)
    async with request.app[DB]() as db:
        user = await store.create_user(db, body.email, body.role, body.password, name=body.name)
        await db.commit()
        return web.json_response(user_json(user), status=201)


@routes.patch("/api/v1/users/{id}")
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
