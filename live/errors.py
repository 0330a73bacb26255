"""The one error family: domain code raises these; the edges turn them into 4xx JSON or `{ok: false}` acks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class LiveError(Exception):
    """A user-facing refusal with a stable code and a message that names the bad value."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def as_ack(self) -> dict[str, Any]:
        return {"ok": False, "error": self.as_dict()}


class InvalidInput(LiveError):
    code = "invalid"
    status = 400


class Unauthenticated(LiveError):
    code = "unauthenticated"
    status = 401


class Forbidden(LiveError):
    code = "forbidden"
    status = 403


class NotFound(LiveError):
    code = "not_found"
    status = 404


class Conflict(LiveError):
    code = "conflict"
    status = 409


class Unavailable(LiveError):
    """A backing service (the database, Redis) cannot be reached right now; the same request may work later."""

    code = "unavailable"
    status = 503


class RateLimited(LiveError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, code)
        # Seconds until a retry can succeed: the HTTP edge sends it as `Retry-After`.
        self.retry_after = retry_after


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line from a pydantic ValidationError, naming each bad field and value."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        msg = err.get("msg", "is invalid")
        if "input" in err and err.get("type") not in ("missing",):
            value = repr(err["input"])
            if len(value) > 60:
                value = value[:57] + "..."
            parts.append(f"'{loc}' {msg} (got {value})")
        else:
            parts.append(f"'{loc}' {msg}")
    return "; ".join(parts) or "invalid input"
