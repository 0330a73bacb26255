"""Debian's Chromium under Playwright's async API, and screenshots for the browser tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Playwright

# Debian's package (`make browser`); Playwright's own browser download cannot reach its CDN from CI.
CHROMIUM = "/usr/bin/chromium"

CHROMIUM_ARGS = (
    # CI runs as root, where Chromium refuses to start sandboxed.
    "--no-sandbox",
    "--disable-gpu",
    # getUserMedia resolves at once, with a synthetic camera (a test pattern) and microphone (a beep).
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # The machine's network is closed: without these Chromium keeps dialing Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


async def launch_chromium(playwright: Playwright, **options: Any) -> Browser:
    """Start headless Chromium; `options` go to `chromium.launch` (e.g. `slow_mo=50`)."""
    return await playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=list(CHROMIUM_ARGS),
        **options,
    )


async def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as test-artifacts/screenshots/<name>.png and return the path."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"Screenshot name {name!r} must be a plain file name without '/'")
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path
