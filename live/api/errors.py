"""One place turns `LiveError` into a 4xx JSON body (API) or a friendly page (pages)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web

from live.errors import LiveError, RateLimited

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Path segments this long are secrets (join tokens are ~90 characters); ids are 32.
SECRET_SEGMENT = 40


def redact_path(path: str) -> str:
    """The path with join tokens and API tokens cut to a recognisable stub, for logs: a log is no place for a key."""
    return "/".join(
        f"{part[:6]}…" if len(part) > SECRET_SEGMENT or part.startswith("live_") else part for part in path.split("/")
    )


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _wants_json(request: web.Request) -> bool:
    # A page's own script posting JSON (the replay page's progress reports) reads a JSON error too.
    return (
        request.path.startswith("/api/")
        or request.path.endswith((".ics", ".csv"))
        or request.content_type == "application/json"
    )


def _page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "error.html", request, {"title": title, "message": message, "status": status}
    )
    response.set_status(status)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LiveError as exc:
        if _wants_json(request):
            response = json_error(exc.status, exc.code, exc.message)
        else:
            response = _page(request, exc.status, exc.code.replace("_", " ").capitalize(), exc.message)
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or not _wants_json(request):
            if exc.status == 404 and not _wants_json(request):
                return _page(request, 404, "Not found", "There is nothing at this address.")
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        return json_error(exc.status, code, exc.reason or "request refused")
    except Exception:
        log.exception("unhandled error", extra={"path": redact_path(request.path), "method": request.method})
        if _wants_json(request):
            return json_error(500, "internal", "Something went wrong on our side; it has been logged.")
        return _page(request, 500, "Something went wrong", "It has been logged. Please try again.")
