"""The staff and room pages over plain HTTP: sign-in redirects, role checks, what each page shows, escaping."""

from __future__ import annotations

from urllib.parse import quote

from tests.conftest import LiveServer, StaffMember
from tests.pages.support import api, schedule
from tests.rooms.support import connect


async def test_pages_redirect_to_login_with_the_page_to_come_back_to(sqlite_server: LiveServer) -> None:
    for path in ("/", "/accounts", "/accounts/x", "/sessions", "/sessions/x", "/sessions/x/live"):
        response = await sqlite_server.request("GET", path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"] == f"/login?next={quote(path)}"


async def test_a_wrong_password_shows_the_error_and_keeps_the_email(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    form = await sqlite_server.request("GET", "/login")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = await sqlite_server.request(
        "POST", "/login", data={"email": "csm@example.com", "password": "nope", "csrf_token": token, "next": "/"}
    )
    assert response.status == 401
    assert 'data-testid="login-error"' in response.text
    assert 'value="csm@example.com"' in response.text


async def test_every_staff_page_renders_for_a_csm(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    csm = sqlite_staff["csm"]
    room = await schedule(sqlite_server, csm, csm, "webinar", account="Globex", contacts=("Gia Globex",))
    pages = {
        "/": "Today",
        "/accounts": "Globex",
        f"/accounts/{room.account_id}": "Gia Globex",
        "/sessions": "Webinar for Globex",
        f"/sessions/{room.session_id}": room.invited[0].join_url,
        f"/sessions/{room.session_id}/live": 'data-testid="go-live"',
    }
    for path, expected in pages.items():
        response = await sqlite_server.request("GET", path, token=csm.token)
        assert response.status == 200, (path, response.text[:300])
        assert expected in response.text, path
    session_page = (await sqlite_server.request("GET", f"/sessions/{room.session_id}", token=csm.token)).text
    assert f'href="{room.invited[0].join_url}.ics"' in session_page
    assert f"/api/v1/sessions/{room.session_id}/report.csv" in session_page


async def test_accounts_filter_and_sort(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    csm = sqlite_staff["csm"]
    for name, mrr in (("Small", 100), ("Big", 50_000), ("Middle", 2_000)):
        await api(sqlite_server, csm, "POST", "/api/v1/accounts", {"name": name, "plan": "p", "mrr": mrr})
    high = (await sqlite_server.request("GET", "/accounts?tier=high", token=csm.token)).text
    assert "Big" in high and "Small" not in high
    by_mrr = (await sqlite_server.request("GET", "/accounts?sort=mrr&dir=desc", token=csm.token)).text
    assert by_mrr.index(">Big<") < by_mrr.index(">Middle<") < by_mrr.index(">Small<")
    assert 'aria-sort="descending"' in by_mrr


async def test_only_roles_that_may_override_get_the_override_form(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    account = await api(sqlite_server, sqlite_staff["csm"], "POST", "/api/v1/accounts", {"name": "A", "plan": "p", "mrr": 1})
    path = f"/accounts/{account['id']}"
    assert "Override tier or phase" in (await sqlite_server.request("GET", path, token=sqlite_staff["csm"].token)).text
    assert "Override tier or phase" not in (await sqlite_server.request("GET", path, token=sqlite_staff["host"].token)).text


async def test_names_are_escaped_on_every_page(sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]) -> None:
    csm = sqlite_staff["csm"]
    evil = "<script>alert(1)</script>"
    room = await schedule(sqlite_server, csm, csm, "one_on_one", account=evil, contacts=(evil,))
    for path in ("/accounts", f"/accounts/{room.account_id}", f"/sessions/{room.session_id}"):
        text = (await sqlite_server.request("GET", path, token=csm.token)).text
        assert evil not in text, path
        assert "&lt;script&gt;" in text, path
    join = await sqlite_server.request("GET", room.invited[0].join_url.removeprefix(sqlite_server.url))
    assert join.status == 200
    assert evil not in join.text
    assert 'data-testid="join"' in join.text


async def test_a_bad_join_link_gets_a_friendly_404(sqlite_server: LiveServer) -> None:
    response = await sqlite_server.request("GET", "/join/not-a-token")
    assert response.status == 404
    assert "join link is not valid" in response.text


async def test_the_join_link_of_an_ended_session_says_so_on_its_first_screen(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = sqlite_staff["host"]
    room = await schedule(sqlite_server, sqlite_staff["csm"], host, "webinar", contacts=("Ada Acme",))
    path = room.invited[0].join_url.removeprefix(sqlite_server.url)
    before = await sqlite_server.request("GET", path)
    assert 'data-testid="join"' in before.text and "This session has ended" not in before.text
    # A watch-only prejoin: no camera preview for a webinar's audience.
    assert 'data-testid="local-video"' not in before.text and "You join as" in before.text

    client = await connect(sqlite_server.url, host.token, room.session_id)
    try:
        assert (await client.call("session.start", {}))["ok"] is True
        assert (await client.call("session.end", {}))["ok"] is True
    finally:
        await client.close()
    after = await sqlite_server.request("GET", path)
    assert after.status == 200
    assert "This session has ended" in after.text and "Ada Acme" in after.text
    assert 'data-testid="join"' not in after.text and "room.js" not in after.text
