"""Helpers for the page tests: data seeded through the HTTP API, signed-in browser contexts, media checks."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page

from tests.conftest import LiveServer, StaffMember

# The machine is a shared 2-core box: Chromium, aiortc and the app all compete for it.
TIMEOUT_MS = 45_000
VIEWPORT = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}


@dataclass(frozen=True)
class Invited:
    contact_id: str
    name: str
    join_url: str


@dataclass(frozen=True)
class Scheduled:
    session_id: str
    account_id: str
    invited: list[Invited]


async def api(server: LiveServer, staff: StaffMember, method: str, path: str, body: Any = None) -> Any:
    response = await server.request(method, path, token=staff.token, json=body)
    assert response.status < 300, f"{method} {path} -> {response.status}: {response.body}"
    return response.body


async def schedule(
    server: LiveServer,
    staff: StaffMember,
    host: StaffMember,
    kind: str,
    *,
    account: str = "Acme",
    contacts: tuple[str, ...] = ("Alex Example",),
    mrr: float = 2_500,
) -> Scheduled:
    """An account with contacts and a session of `kind` they are invited to, all through the API."""
    created = await api(server, staff, "POST", "/api/v1/accounts", {"name": account, "plan": "growth", "mrr": mrr})
    for name in contacts:
        # Names may be anything (pages must escape them); addresses must be addresses.
        email = _slug(name, ".") + "@" + _slug(account, "") + ".test"
        await api(server, staff, "POST", f"/api/v1/accounts/{created['id']}/contacts", {"name": name, "email": email})
    session = await api(
        server,
        staff,
        "POST",
        "/api/v1/sessions",
        {
            "kind": kind,
            "title": f"{kind.replace('_', ' ').capitalize()} for {account}",
            "starts_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
            "duration_minutes": 30,
            "host_email": host.email,
            "account_ids": [created["id"]],
        },
    )
    invited = [Invited(i["contact_id"], i["name"], i["join_url"]) for i in session["invitations"]]
    return Scheduled(session["id"], created["id"], invited)


def _slug(text: str, joiner: str) -> str:
    return joiner.join(re.findall(r"[a-z0-9]+", text.lower())) or "x"


async def signed_in(browser: Browser, server: LiveServer, staff: StaffMember, **options: Any) -> tuple[BrowserContext, Page]:
    """A browser context with the staff member's login cookie, on the today page."""
    context = await browser.new_context(viewport=options.pop("viewport", VIEWPORT), **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    watch(page, staff.role)
    await page.goto(server.url + "/login")
    await page.fill("#email", staff.email)
    await page.fill("#password", staff.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(server.url + "/")
    return context, page


async def guest(browser: Browser, url: str, **options: Any) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=options.pop("viewport", VIEWPORT), **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    watch(page, "guest")
    await page.goto(url)
    return context, page


def watch(page: Page, who: str) -> None:
    """Page errors and console warnings go to the test's captured output, to read when a test fails."""
    page.on("pageerror", lambda error: print(f"[{who}] page error: {error}"))
    page.on(
        "console",
        lambda message: print(f"[{who}] console {message.type}: {message.text}")
        if message.type in ("error", "warning")
        else None,
    )


async def wait_for(page: Page, expression: str, arg: Any = None) -> Any:
    """Polls `expression` (a JS expression, or a function of `arg`) until it is truthy.

    Playwright's own `wait_for_function` evaluates its predicate from a string on every animation frame,
    which the pages' Content-Security-Policy (no 'unsafe-eval') refuses; `page.evaluate` runs as the
    debugger, outside the page's policy.
    """
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while not (value := await page.evaluate(expression, arg)):  # noqa: ASYNC110 (the browser has no event for us)
            await asyncio.sleep(0.05)
    return value


async def enter_room(page: Page) -> None:
    """Passes the prejoin check (the button enables once the camera answered) and waits for the room."""
    join = page.get_by_test_id("join")
    await join.wait_for(state="visible")
    await wait_for(page, "!document.querySelector('[data-testid=join]').disabled")
    await join.click()
    await wait_for(page, "document.getElementById('connection').textContent === 'Connected'")


PLAYING = """(count) => {
  const videos = [...document.querySelectorAll('[data-testid=remote-video]')];
  return videos.length >= count && videos.every((v) => v.videoWidth > 0 && v.readyState >= 2);
}"""


async def assert_remote_video_plays(page: Page, count: int = 1) -> None:
    """Each remote video has a picture and its clock runs (currentTime advances)."""
    await wait_for(page, PLAYING, count)
    before = await page.evaluate(
        "[...document.querySelectorAll('[data-testid=remote-video]')].map((v) => v.currentTime)"
    )
    await wait_for(
        page,
        """(before) => [...document.querySelectorAll('[data-testid=remote-video]')]
              .every((v, i) => v.currentTime > before[i] + 0.5)""",
        before,
    )


# A phone as the issue names it (iPhone 12-15 class): 390 x 844 CSS pixels.
PHONE_390 = {"width": 390, "height": 844}

# Counts getUserMedia calls, installed before any page script runs.
COUNT_GET_USER_MEDIA = """
window.getUserMediaCalls = 0;
const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => { window.getUserMediaCalls += 1; return original(constraints); };
"""

IN_VIEW = """(element) => {
  const r = element.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
}"""


async def in_view(page: Page, test_id: str) -> bool:
    """Whether the element is wholly inside the viewport as it is now (nothing scrolled)."""
    return bool(await page.get_by_test_id(test_id).first.evaluate(IN_VIEW))
