"""Staff writes from the pages: an override pinned from the account page, proposed check-ins confirmed or dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import async_playwright

from live.db.engine import create_engine, session_factory
from live.db.tables import User
from live.sessions import store as sessions
from live.sessions.model import SessionKind
from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import api, signed_in

pytestmark = pytest.mark.browser


async def propose_check_in(database_url: str, host_id: str, account_id: str, title: str) -> str:
    """A check-in as the engine proposes one for an at-risk account."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            host = await db.get(User, host_id)
            assert host is not None
            session = await sessions.create_session(
                db, kind=SessionKind.ONE_ON_ONE, title=title, starts_at=datetime.now(UTC) + timedelta(days=2),
                duration_minutes=30, host=host, proposed=True, account_id=account_id,
            )
            await db.commit()
            return session.id
    finally:
        await engine.dispose()


async def test_a_csm_pins_a_tier_and_confirms_and_drops_proposed_check_ins(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    csm = sqlite_staff["csm"]
    account = await api(sqlite_server, csm, "POST", "/api/v1/accounts", {"name": "Hooli", "plan": "growth", "mrr": 4_000})
    url = sqlite_server.settings.database_url
    keep = await propose_check_in(url, csm.id, account["id"], "Hooli check-in A")
    drop = await propose_check_in(url, csm.id, account["id"], "Hooli check-in B")
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await signed_in(browser, sqlite_server, csm)
            await page.locator(f"[data-proposed='{keep}']").get_by_role("button", name="Confirm").click()
            await page.locator(f"[data-proposed='{keep}']").get_by_text("Confirmed").wait_for()
            page.on("dialog", lambda dialog: dialog.accept())
            await page.locator(f"[data-proposed='{drop}']").get_by_role("button", name="Drop").click()
            await page.locator(f"[data-proposed='{drop}']").get_by_text("Dropped").wait_for()
            await screenshot(page, "today-check-ins")
            assert (await api(sqlite_server, csm, "GET", f"/api/v1/sessions/{keep}"))["proposed"] is False
            # Dropping a proposed check-in cancels it; the row stays so the schedule can say so.
            assert (await api(sqlite_server, csm, "GET", f"/api/v1/sessions/{drop}"))["status"] == "cancelled"

            await page.goto(f"{sqlite_server.url}/accounts/{account['id']}")
            await page.get_by_label("Tier", exact=True).select_option("high")
            await page.get_by_label("Reason").fill("Strategic logo, renewal in May")
            await page.get_by_label("Expires (optional)").fill("2031-01-01T09:00")
            await page.get_by_role("button", name="Save override").click()
            await page.get_by_test_id("history").get_by_text("Strategic logo, renewal in May", exact=False).wait_for()
            assert "high" in (await page.get_by_test_id("account-tier").text_content() or "")
            stored = await api(sqlite_server, csm, "GET", f"/api/v1/accounts/{account['id']}")
            assert stored["tier"] == "high" and stored["tier_source"] == "manual"
            assert stored["tier_override"]["expires_at"].startswith("2031-01-01")

            # A reason is required: the API's refusal is shown beside the form.
            await page.get_by_label("Phase", exact=True).select_option("utilization")
            await page.get_by_role("button", name="Save override").click()
            await page.get_by_text("needs a 'reason'").wait_for()
            await screenshot(page, "account-override")
        finally:
            await browser.close()
