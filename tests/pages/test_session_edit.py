"""A CSM in New York schedules, invites single contacts, edits, un-invites and cancels, seeing times in their own zone."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.browser_support import launch_chromium, screenshot
from tests.conftest import LiveServer, StaffMember
from tests.pages.support import TIMEOUT_MS, api, signed_in

pytestmark = pytest.mark.browser


async def warnings(page: Page) -> list[str]:
    box = page.get_by_test_id("session-warnings")
    return [] if not await box.count() else await box.locator("li").all_text_contents()


async def test_a_csm_schedules_and_edits_a_one_on_one_in_their_own_time_zone(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    csm = sqlite_staff["csm"]
    people = {}
    for account, names in (("Acme", ("Ann Acme", "Al Acme")), ("Globex", ("Gil Globex",))):
        created = await api(sqlite_server, csm, "POST", "/api/v1/accounts", {"name": account, "plan": "p", "mrr": 900})
        for name in names:
            email = name.split()[0].lower() + f"@{account.lower()}.test"
            contact = await api(sqlite_server, csm, "POST", f"/api/v1/accounts/{created['id']}/contacts", {"name": name, "email": email})
            people[name] = contact["id"]
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            _, page = await signed_in(browser, sqlite_server, csm, timezone_id="America/New_York")
            await page.goto(sqlite_server.url + "/sessions")
            await page.get_by_text("Starts (America/New_York)").wait_for()
            await page.get_by_label("One-on-one").check()
            await page.get_by_label("Title").fill("Quarterly check-in")
            await page.get_by_label("Starts").fill("2031-06-02T09:00")
            await page.get_by_role("button", name="Schedule").click()
            await page.wait_for_url(lambda url: "/sessions/" in url)
            session_id = page.url.rsplit("/", 1)[1]
            stored = await api(sqlite_server, csm, "GET", f"/api/v1/sessions/{session_id}")
            assert stored["starts_at"] == "2031-06-02T13:00:00+00:00"  # 09:00 EDT is 13:00 UTC
            # time.js rewrites the UTC fallback once the page has loaded: wait for the zone's text.
            scheduled = page.get_by_role("definition").filter(has_text="min")
            await expect(scheduled).to_contain_text("Mon 2 Jun 2031, 09:00 (America/New_York)", timeout=TIMEOUT_MS)
            assert await warnings(page) == ["Nobody is invited to this one-on-one yet: invite a contact."]
            await expect(page.get_by_label("Starts")).to_have_value("2031-06-02T09:00", timeout=TIMEOUT_MS)

            for name in ("Ann Acme", "Gil Globex"):
                await page.get_by_label("Invite a contact").select_option(people[name])
                await page.get_by_role("button", name="Invite contact").click()
                await page.get_by_role("button", name=f"Un-invite {name}").wait_for()
            assert "accounts (Acme, Globex)" in (await warnings(page))[0]
            await screenshot(page, "session-warnings")

            page.on("dialog", lambda dialog: dialog.accept())
            await page.get_by_role("button", name="Un-invite Gil Globex").click()
            await page.get_by_role("button", name="Un-invite Gil Globex").wait_for(state="detached")
            await page.get_by_role("button", name="Un-invite Ann Acme").wait_for()  # the reloaded page
            assert await warnings(page) == []
            invitations = await api(sqlite_server, csm, "GET", f"/api/v1/sessions/{session_id}/invitations")
            assert [i["name"] for i in invitations] == ["Ann Acme"]

            edit = page.get_by_test_id("session-edit")
            await edit.get_by_label("Title").fill("Quarterly business review")
            await edit.get_by_label("Starts").fill("2031-12-01T10:30")
            await edit.get_by_label("Minutes").fill("60")
            await edit.get_by_role("button", name="Save changes").click()
            await page.get_by_role("heading", name="Quarterly business review").wait_for()
            stored = await api(sqlite_server, csm, "GET", f"/api/v1/sessions/{session_id}")
            # December is standard time in New York: UTC-5.
            assert (stored["starts_at"], stored["duration_minutes"]) == ("2031-12-01T15:30:00+00:00", 60)
            await expect(scheduled).to_contain_text("Mon 1 Dec 2031, 10:30 (America/New_York)", timeout=TIMEOUT_MS)
            await screenshot(page, "session-edit")

            await edit.get_by_label("Starts").fill("2020-01-06T08:00")
            await edit.get_by_role("button", name="Save changes").click()
            await page.get_by_text("The start is in the past").wait_for()

            await page.get_by_role("button", name="Cancel session").click()
            await page.get_by_text("cancelled", exact=True).wait_for()
            assert (await api(sqlite_server, csm, "GET", f"/api/v1/sessions/{session_id}"))["status"] == "cancelled"
            assert await page.get_by_test_id("session-edit").count() == 0
            # A session that never ran has no no-shows.
            assert await page.get_by_test_id("attendance").get_by_text("no-show").count() == 0
            await screenshot(page, "session-cancelled")
        finally:
            await browser.close()
