"""Request bodies and query strings through pydantic models, refusals naming the bad value."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from live.errors import InvalidInput, describe_validation_error

M = TypeVar("M", bound=BaseModel)

MAX_BODY = 1 << 20
# Deepest JSON nesting a body may have. Our bodies are two levels deep; Python's own `json` recurses once
# per level and fails with RecursionError near 1,000, so a body of 50,000 `[` must be refused before that.
MAX_DEPTH = 32
# Times outside these years are refused: year 1 overflows on conversion to UTC, 9999 when a duration is
# added (an .ics end time), and no session, signature or override date of this product is that far.
MIN_YEAR, MAX_YEAR = 2000, 2100


class Body(BaseModel):
    """Base of every request body: unknown fields are refused, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _sane_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 'Z' or '+02:00'")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


# A time with a zone, in a sane range: use it for every datetime field of a request body.
When = Annotated[datetime, AfterValidator(_sane_time)]


def validate(model: type[M], data: Any) -> M:
    """Query strings and other already-parsed input (strings are coerced to the field types)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc


def json_depth_ok(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether no array or object in `raw` is nested deeper than `limit`, read without parsing it.

    Brackets inside strings do not count; a backslash escapes the next byte inside a string.
    """
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


async def json_body(request: web.Request, model: type[M]) -> M:
    """The body as `model`, strictly: JSON types must match the fields (`"5"` is not a number).

    Times and enum values are still read from their JSON strings, as JSON has no other way to write them.
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise InvalidInput(f"Body of {request.content_length} bytes is larger than {MAX_BODY}.", status=413)
    raw = await request.read()
    if not raw.strip():
        raise InvalidInput("A JSON object body is required.")
    if not json_depth_ok(raw):
        raise InvalidInput(f"Body is nested deeper than {MAX_DEPTH} levels.")
    if not raw.lstrip().startswith(b"{"):
        raise InvalidInput("Body must be a JSON object.")
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        broken = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if broken:
            raise InvalidInput(f"Body is not valid JSON: {broken[0]['msg'].removeprefix('Invalid JSON: ')}.") from exc
        raise InvalidInput(describe_validation_error(exc)) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"Body is not UTF-8: {exc}.") from exc
