"""Every response carries the security headers: pages, the API, static files and error pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import LiveServer


@pytest.mark.parametrize("path", ["/login", "/api/v1/accounts", "/static/css/app.css", "/no-such-page", "/healthz"])
async def test_every_response_forbids_framing_sniffing_referrers_and_inline_script(
    sqlite_server: LiveServer, path: str
) -> None:
    response = await sqlite_server.request("GET", path)
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and "'unsafe-inline'" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert f"ws://{sqlite_server.url.removeprefix('http://')}" in directives["connect-src"]
    assert "blob:" in directives["media-src"] and "mediastream:" in directives["media-src"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_no_page_template_has_inline_script_or_style_attributes() -> None:
    templates = Path(__file__).resolve().parents[2] / "web" / "templates"
    for template in templates.glob("*.html"):
        html = template.read_text()
        scripts = re.findall(r"<script\b([^>]*)>", html)
        for attrs in scripts:
            assert "src=" in attrs or 'type="application/json"' in attrs, f"inline script in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"an on*= handler in {template.name}"
        assert not re.search(r"\sstyle\s*=", html), f"a style attribute in {template.name}"
