"""The security headers every response carries: the Content-Security-Policy and its companions."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web


def content_security_policy(public_url: str) -> str:
    """Scripts, styles and connections from this site only; media from the camera and our own streams.

    No inline script or style attribute is allowed (pages keep theirs in `web/static`), so injected markup
    cannot run. `connect-src` names the public origin's websocket as well as 'self' because the Socket.IO
    client upgrades to `ws(s)://` and a proxy may serve us under a host other than the one the browser asked.
    """
    parts = urlsplit(public_url)
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            f"connect-src 'self' {ws_scheme}://{parts.netloc}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(public_url: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(public_url),
        # Older browsers that do not read frame-ancestors.
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # Join links carry their token in the path: never send it to another site as a Referer.
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        # Camera and mic for our own pages only; no other powerful feature at all.
        "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=()",
    }


def setup(app: web.Application, public_url: str) -> None:
    """Adds the headers to every response, static files and error pages included."""
    headers = security_headers(public_url)

    async def add_headers(_request: web.Request, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add_headers)
