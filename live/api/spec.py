"""The API's route declarations and the OpenAPI 3.1 document built from them.

A handler is declared once, with the pydantic models that validate its input and describe its output:

    api = ApiRoutes("tokens")

    @api.post("/api/v1/tokens", body=TokenIn, response=TokenCreated, status=201, summary="Create an API token")
    async def create(request): ...

`live.app` adds each module's `api` (its routes) to the app, and `GET /api/v1/openapi.json` describes every
operation declared this way, so a new endpoint appears in the document by being declared, nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Required, TypedDict, Unpack

from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter

from live.api.parse import Body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Who may call: staff (API token or login cookie), anyone, or a join token in the path.
Auth = Literal["staff", "public", "join_token"]
# What an answer is described by: a model, or `list[Model]`.
ResponseType = type[BaseModel] | type[list[Any]]
# Some answers are not JSON (a CSV report, an .ics invite): declared by their media type.
TEXT_TYPES = ("text/csv", "text/calendar", "text/plain")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: ResponseType | None = None
    status: int = 200
    auth: Auth = "staff"
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()


class RouteOptions(TypedDict, total=False):
    """`ApiRoutes.get(path, ...)` and its siblings take `route`'s keywords: spelled out so a typo is a type error."""

    summary: Required[str]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: ResponseType | None
    status: int
    auth: Auth
    media_type: str
    errors: tuple[int, ...]


@dataclass
class ApiRoutes:
    """One module's routes and their declarations (the module exports it as `api`)."""

    tag: str
    table: web.RouteTableDef = field(default_factory=web.RouteTableDef)
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: ResponseType | None = None,
        status: int = 200,
        auth: Auth = "staff",
        media_type: str = "application/json",
        errors: tuple[int, ...] = (),
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            self.operations.append(
                Operation(method, path, summary, self.tag, body, query, response, status, auth, media_type, errors)
            )
            self.table.route(method, path)(handler)
            return handler

        return declare

    def get(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kwargs)


class Out(BaseModel):
    """Base of response descriptions: the fields named are always there; more may be added later."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every refusal: a stable code and a message naming the bad value."""

    error: ErrorDetail


_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?\}")


class _Schemas:
    """Collects every model's JSON schema under `components.schemas`, referenced from the operations."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, annotation: Any, mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        schema = TypeAdapter(annotation).json_schema(ref_template=_REF, mode=mode)
        self.components.update(schema.pop("$defs", {}))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and "properties" in schema:
            name = annotation.__name__
            self.components[name] = schema
            return {"$ref": _REF.format(model=name)}
        return schema


def _parameters(op: Operation, schemas: _Schemas) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=_REF)
        schemas.components.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return params


def _responses(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if op.status == 204:
        responses["204"] = {"description": "Done; no body."}
    elif op.media_type != "application/json":
        responses[str(op.status)] = {
            "description": op.summary,
            "content": {op.media_type: {"schema": {"type": "string"}}},
        }
    else:
        content = {"schema": schemas.of(op.response, "serialization")} if op.response is not None else {"schema": {}}
        responses[str(op.status)] = {"description": op.summary, "content": {"application/json": content}}
    error = {"content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorOut")}}}}
    codes = {400: "Bad input", 404: "Not found", 413: "Body too large", 429: "Too many requests"}
    if op.auth == "staff":
        codes |= {401: "Not signed in", 403: "Not allowed for this role (or a cookie write without X-CSRF-Token)"}
    for status in op.errors:
        codes.setdefault(status, "Refused")
    for status, description in sorted(codes.items()):
        responses[str(status)] = {"description": description, **error}
    return responses


def openapi_document(operations: list[Operation], public_url: str, version: str) -> dict[str, Any]:
    schemas = _Schemas()
    schemas.of(ErrorOut, "serialization")
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", op.path)
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{op.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "tags": [op.tag],
            "parameters": _parameters(op, schemas),
            "responses": _responses(op, schemas),
        }
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schemas.of(op.body, "validation")}},
            }
        entry["security"] = [{"bearer": []}, {"cookie": []}] if op.auth == "staff" else []
        paths.setdefault(path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "live",
            "version": version,
            "description": "Live sessions for digital high-touch customer success. Errors are "
            '`{"error": {"code", "message"}}` with a 4xx status.',
        },
        "servers": [{"url": public_url}],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`live token create`)."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "live_login",
                           "description": "The login cookie; writes also need the X-CSRF-Token header."},
            },
        },
    }


API_OPERATIONS = web.AppKey("api_operations", list)


def add_api(app: web.Application, routes: ApiRoutes) -> None:
    """Adds a module's routes to the app and its declarations to the OpenAPI document."""
    app.router.add_routes(routes.table)
    app.setdefault(API_OPERATIONS, []).extend(routes.operations)


__all__ = ["ApiRoutes", "Body", "Operation", "Out", "add_api", "openapi_document"]
