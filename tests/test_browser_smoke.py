"""Debian's Chromium starts under Playwright, loads a page from a local aiohttp server and runs its script."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from playwright.async_api import async_playwright

from tests.browser_support import launch_chromium, screenshot

PAGE = """<!doctype html>
<html>
  <head><meta charset="utf-8"><title>smoke</title></head>
  <body>
    <p data-testid="status">waiting</p>
    <button data-testid="go" type="button">Go</button>
    <script type="module">
      const status = document.querySelector('[data-testid="status"]');
      document.querySelector('[data-testid="go"]').addEventListener("click", () => {
        status.textContent = "clicked in " + navigator.userAgent.match(/Chrom\\w+/)[0];
      });
    </script>
  </body>
</html>
"""


VENDOR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"

# The vendored client, loaded as an ES module, against python-socketio: the same protocol pairing
# (Socket.IO v5 / Engine.IO v4) the real pages use, over polling first and then a WebSocket upgrade.
SOCKETIO_PAGE = """<!doctype html>
<html>
  <head><meta charset="utf-8"><title>socket.io smoke</title></head>
  <body>
    <p data-testid="status">connecting</p>
    <script type="module">
      import { io } from "/static/vendor/socket.io.esm.min.js";
      const status = document.querySelector('[data-testid="status"]');
      const socket = io("/live", { auth: { token: "smoke" } });
      window.smokeSocket = socket;
      socket.on("connect", async () => {
        const ack = await socket.emitWithAck("echo", { text: "<b>hi</b>" });
        status.textContent = JSON.stringify(ack);
      });
      socket.on("connect_error", (err) => { status.textContent = "error: " + err.message; });
    </script>
  </body>
</html>
"""


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _socketio_page(request: web.Request) -> web.Response:
    return web.Response(text=SOCKETIO_PAGE, content_type="text/html")


def _socketio_server() -> socketio.AsyncServer:
    sio = socketio.AsyncServer(async_mode="aiohttp")

    @sio.on("connect", namespace="/live")
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> None:
        if not auth or auth.get("token") != "smoke":
            raise socketio.exceptions.ConnectionRefusedError({"code": "unauthenticated"})

    @sio.on("echo", namespace="/live")
    async def echo(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "text": data["text"]}

    return sio


@pytest.fixture
async def page_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/", _page)
    app.router.add_get("/socketio", _socketio_page)
    app.router.add_static("/static/vendor", VENDOR)
    _socketio_server().attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # a free port chosen by the kernel, held until the server closes
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        await runner.cleanup()


@pytest.mark.browser
async def test_chromium_clicks_a_button_and_the_page_script_changes_the_text(page_url: str) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            await page.goto(page_url)
            status = page.get_by_test_id("status")
            assert await status.text_content() == "waiting"

            await page.get_by_test_id("go").click()

            await page.wait_for_function("document.querySelector('[data-testid=status]').textContent !== 'waiting'")
            assert (await status.text_content() or "").startswith("clicked in Chrom")
            shot = await screenshot(page, "browser-smoke")
            assert shot.read_bytes().startswith(b"\x89PNG")
        finally:
            await browser.close()


@pytest.mark.browser
async def test_chromium_grants_the_fake_camera_and_microphone(page_url: str) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            await page.goto(page_url)
            kinds = await page.evaluate(
                """async () => {
                    const stream = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
                    const kinds = stream.getTracks().map((t) => t.kind).sort();
                    stream.getTracks().forEach((t) => t.stop());
                    return kinds;
                }"""
            )
            assert kinds == ["audio", "video"]
        finally:
            await browser.close()


@pytest.mark.browser
async def test_the_vendored_socketio_client_talks_to_python_socketio(page_url: str) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            await page.goto(page_url + "socketio")
            status = page.get_by_test_id("status")
            await page.wait_for_function("document.querySelector('[data-testid=status]').textContent !== 'connecting'")
            assert await status.text_content() == '{"ok":true,"text":"<b>hi</b>"}'
            # The client starts on long-polling and upgrades; nginx in docker-compose must allow both.
            await page.wait_for_function("window.smokeSocket.io.engine.transport.name === 'websocket'")
        finally:
            await browser.close()
