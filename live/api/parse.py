"""Request bodies and query strings through pydantic models, refusals naming the bad value."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from live.errors import InvalidInput, describe_validation_error

M = TypeVar("M", bound=BaseModel)

MAX_BODY = 1 << 20


class Body(BaseModel):
    """Base of every request body: unknown fields are refused, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc


async def json_body(request: web.Request, model: type[M]) -> M:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise InvalidInput(f"Body of {request.content_length} bytes is larger than {MAX_BODY}.", status=413)
    raw = await request.read()
    if not raw:
        raise InvalidInput("A JSON object body is required.")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"Body must be a JSON object, not {type(data).__name__}.")
    return validate(model, data)
