"""Staff sign-in: the login form with CSRF, the cookie it sets, and cookie-authenticated API writes."""

from __future__ import annotations

import re

import pytest

from live.pages.base import safe_next
from tests.conftest import LiveServer, StaffMember


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


async def sign_in(server: LiveServer, email: str, password: str) -> tuple[int, str]:
    form = await server.request("GET", "/login")
    token = csrf_from(form.text)
    response = await server.request(
        "POST", "/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"},
        allow_redirects=False,
    )
    return response.status, response.text


async def test_a_staff_member_signs_in_and_sees_today(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    host = sqlite_staff["host"]
    status, _ = await sign_in(sqlite_server, host.email, host.password)
    assert status == 302
    today = await sqlite_server.request("GET", "/")
    assert today.status == 200 and "Today" in today.text and "Sign out" in today.text


async def test_a_wrong_password_shows_a_message_and_sets_no_cookie(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    status, html = await sign_in(sqlite_server, "host@example.com", "wrong password")
    assert status == 401 and "do not match" in html
    unknown_status, _ = await sign_in(sqlite_server, "nobody@example.com", "whatever1")
    assert unknown_status == 401
    page = await sqlite_server.request("GET", "/", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"].startswith("/login")


async def test_a_login_post_without_the_csrf_token_is_refused(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    await sqlite_server.request("GET", "/login")
    response = await sqlite_server.request(
        "POST", "/login", data={"email": "host@example.com", "password": sqlite_staff["host"].password},
        allow_redirects=False,
    )
    assert response.status == 400 and "expired" in response.text


async def test_login_redirects_only_to_local_paths(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    form = await sqlite_server.request("GET", "/login?next=//evil.example/x")
    assert 'name="next" value="/"' in form.text
    token = csrf_from(form.text)
    response = await sqlite_server.request(
        "POST", "/login",
        data={"email": "host@example.com", "password": sqlite_staff["host"].password, "csrf_token": token,
              "next": "https://evil.example/"},
        allow_redirects=False,
    )
    assert response.status == 302 and response.headers["Location"] == "/"


async def test_cookie_api_writes_need_the_csrf_header(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    csm = sqlite_staff["csm"]
    await sign_in(sqlite_server, csm.email, csm.password)
    listed = await sqlite_server.request("GET", "/api/v1/accounts")
    assert listed.status == 200
    body = {"name": "Acme", "plan": "p", "mrr": 10}
    refused = await sqlite_server.request("POST", "/api/v1/accounts", json=body)
    assert refused.status == 403 and refused.body["error"]["code"] == "csrf"
    page = await sqlite_server.request("GET", "/")
    created = await sqlite_server.request(
        "POST", "/api/v1/accounts", json=body, headers={"X-CSRF-Token": csrf_from(page.text)}
    )
    assert created.status == 201


async def test_signing_out_ends_the_session(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    await sign_in(sqlite_server, "host@example.com", sqlite_staff["host"].password)
    page = await sqlite_server.request("GET", "/")
    out = await sqlite_server.request("POST", "/logout", data={"csrf_token": csrf_from(page.text)}, allow_redirects=False)
    assert out.status == 302
    again = await sqlite_server.request("GET", "/", allow_redirects=False)
    assert again.status == 302


@pytest.mark.parametrize(
    "target",
    [
        "//example.com", "///example.com", "/\\example.com", "\\\\example.com", "/\t/example.com", "/\n/example.com",
        "/\r\n/example.com", " //example.com", "/%2F/example.com", "/%2f%2fexample.com", "/%5Cexample.com",
        "/%252F/example.com", "https://example.com", "http:/example.com", "https:example.com", "javascript:alert(1)",
        "example.com", "/\u2028/example.com", "/\u200b/example.com", "",
    ],
)
def test_a_next_that_could_leave_the_site_becomes_the_home_page(target: str) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/accounts", "/sessions/abc/live", "/accounts?tier=high&phase=onboarding",
                                    "/accounts?q=a%20b", "/sessions#today"])
def test_a_local_next_is_kept(target: str) -> None:
    assert safe_next(target) == target


async def test_signing_in_with_a_tab_trick_in_next_lands_on_this_site(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    form = await sqlite_server.request("GET", "/login")
    response = await sqlite_server.request(
        "POST", "/login",
        data={"email": "host@example.com", "password": sqlite_staff["host"].password, "csrf_token": csrf_from(form.text),
              "next": "/\t/example.com"},
        allow_redirects=False,
    )
    assert response.status == 302 and response.headers["Location"] == "/"
