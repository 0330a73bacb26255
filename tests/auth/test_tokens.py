"""API tokens expire and can be revoked; signing out and changing a password revoke login cookies server-side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import update

from live.db.engine import create_engine, session_factory
from live.db.tables import ApiToken
from tests.auth.test_routes import csrf_from, sign_in
from tests.conftest import LiveServer, StaffMember


async def test_a_token_works_until_it_is_revoked_and_then_stops_at_once(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = sqlite_staff["host"]
    created = await sqlite_server.request("POST", "/api/v1/tokens", host.token, json={"name": "CRM sync"})
    assert created.status == 201
    token = created.body["token"]
    assert created.body["email"] == host.email and created.body["name"] == "CRM sync"
    expires = datetime.fromisoformat(created.body["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    assert (await sqlite_server.request("GET", "/api/v1/sessions", token)).status == 200

    listed = await sqlite_server.request("GET", "/api/v1/tokens", token)
    mine = {t["id"]: t for t in listed.body}
    assert set(mine[created.body["id"]]) == {
        "id", "email", "name", "created_at", "expires_at", "last_used_at", "revoked_at"
    }
    assert mine[created.body["id"]]["last_used_at"] is not None
    assert {t["email"] for t in listed.body} == {host.email}, "a host sees only their own tokens"
    assert all("token" not in t for t in listed.body)

    revoked = await sqlite_server.request("DELETE", f"/api/v1/tokens/{created.body['id']}", host.token)
    assert revoked.status == 204
    refused = await sqlite_server.request("GET", "/api/v1/sessions", token)
    assert refused.status == 401 and "revoked" in refused.body["error"]["message"]
    again = await sqlite_server.request("GET", "/api/v1/tokens", host.token)
    assert next(t for t in again.body if t["id"] == created.body["id"])["revoked_at"] is not None


async def test_an_expired_token_is_refused(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    host = sqlite_staff["host"]
    created = await sqlite_server.request("POST", "/api/v1/tokens", host.token, json={"expires_in_days": 1})
    assert (await sqlite_server.request("GET", "/api/v1/sessions", created.body["token"])).status == 200
    engine = create_engine(sqlite_server.settings.database_url)
    async with session_factory(engine)() as db:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await db.execute(update(ApiToken).where(ApiToken.id == created.body["id"]).values(expires_at=past))
        await db.commit()
    await engine.dispose()
    assert (await sqlite_server.request("GET", "/api/v1/sessions", created.body["token"])).status == 401


async def test_only_an_admin_makes_lists_and_revokes_tokens_of_others(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    admin, host, csm = sqlite_staff["admin"], sqlite_staff["host"], sqlite_staff["csm"]
    for_other = await sqlite_server.request("POST", "/api/v1/tokens", host.token, json={"email": csm.email})
    assert for_other.status == 403
    by_admin = await sqlite_server.request("POST", "/api/v1/tokens", admin.token, json={"email": csm.email, "name": "ci"})
    assert by_admin.status == 201 and by_admin.body["email"] == csm.email
    nobody = await sqlite_server.request("POST", "/api/v1/tokens", admin.token, json={"email": "ghost@example.com"})
    assert nobody.status == 400 and "ghost@example.com" in nobody.body["error"]["message"]
    everyone = await sqlite_server.request("GET", "/api/v1/tokens", admin.token)
    assert {t["email"] for t in everyone.body} == {admin.email, host.email, csm.email}
    not_yours = await sqlite_server.request("DELETE", f"/api/v1/tokens/{by_admin.body['id']}", host.token)
    assert not_yours.status == 404
    assert (await sqlite_server.request("GET", "/api/v1/accounts", by_admin.body["token"])).status == 200
    assert (await sqlite_server.request("DELETE", f"/api/v1/tokens/{by_admin.body['id']}", admin.token)).status == 204
    assert (await sqlite_server.request("GET", "/api/v1/accounts", by_admin.body["token"])).status == 401


async def test_token_lifetimes_outside_one_to_365_days_and_numbers_as_strings_are_refused(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    token = sqlite_staff["host"].token
    for bad in (0, 366, -1, "5", 5.5, True):
        refused = await sqlite_server.request("POST", "/api/v1/tokens", token, json={"expires_in_days": bad})
        assert refused.status == 400 and "expires_in_days" in refused.body["error"]["message"], bad


async def test_a_signed_out_cookie_stops_working_even_if_a_copy_was_kept(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    await sign_in(sqlite_server, sqlite_staff["host"].email, sqlite_staff["host"].password)
    kept = {c.key: c.value for c in sqlite_server.http.cookie_jar}
    page = await sqlite_server.request("GET", "/")
    await sqlite_server.request("POST", "/logout", data={"csrf_token": csrf_from(page.text)}, allow_redirects=False)
    async with aiohttp.ClientSession(cookies=kept) as thief:
        async with thief.get(sqlite_server.url + "/api/v1/sessions") as response:
            assert response.status == 401


async def _browser(server: LiveServer, staff: StaffMember) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(server.url + "/login") as form:
        csrf = csrf_from(await form.text())
    async with session.post(
        server.url + "/login", data={"email": staff.email, "password": staff.password, "csrf_token": csrf},
        allow_redirects=False,
    ) as response:
        assert response.status == 302
    return session


async def _csrf(server: LiveServer, session: aiohttp.ClientSession) -> str:
    async with session.get(server.url + "/") as page:
        return csrf_from(await page.text())


async def test_changing_the_password_signs_out_every_other_browser(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    csm = sqlite_staff["csm"]
    laptop, phone = await _browser(sqlite_server, csm), await _browser(sqlite_server, csm)
    try:
        url = sqlite_server.url + "/api/v1/me/password"
        headers = {"X-CSRF-Token": await _csrf(sqlite_server, laptop)}
        wrong = {"current_password": "not it at all", "new_password": "brand new pass 2"}
        async with laptop.post(url, json=wrong, headers=headers) as response:
            assert response.status == 400 and (await response.json())["error"]["code"] == "wrong_password"
        body = {"current_password": csm.password, "new_password": "brand new pass 2"}
        async with laptop.post(url, json=body, headers=headers) as response:
            assert response.status == 204
        async with laptop.get(sqlite_server.url + "/api/v1/accounts") as response:
            assert response.status == 200, "the browser that changed it stays signed in"
        async with phone.get(sqlite_server.url + "/api/v1/accounts") as response:
            assert response.status == 401, "every other browser is signed out"
        assert (await sqlite_server.request("GET", "/api/v1/accounts", csm.token)).status == 200, "tokens keep working"
    finally:
        await laptop.close()
        await phone.close()
    old_status, _ = await sign_in(sqlite_server, csm.email, csm.password)
    assert old_status == 401
    new_status, _ = await sign_in(sqlite_server, csm.email, "brand new pass 2")
    assert new_status == 302
