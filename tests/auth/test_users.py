"""Staff users through `/api/v1/users`: admins list, create, change roles and disable; a disabled user is locked out."""

from __future__ import annotations

from tests.conftest import LiveServer, StaffMember


async def test_an_admin_creates_a_user_who_signs_in_and_a_disabled_user_is_locked_out_of_pages_and_api(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    admin = sqlite_staff["admin"].token
    created = await sqlite_server.request(
        "POST", "/api/v1/users", admin,
        json={"email": "Dana@Example.com", "role": "host", "name": "Dana Scully", "password": "trust no one 1"},
    )
    assert created.status == 201
    assert created.body["email"] == "dana@example.com" and created.body["role"] == "host"
    assert created.body["disabled"] is False and created.body["has_password"] is True
    listed = await sqlite_server.request("GET", "/api/v1/users", admin)
    assert "dana@example.com" in [u["email"] for u in listed.body]

    # The login form wants its CSRF token: fetch the form first, as a browser does.
    form = await sqlite_server.request("GET", "/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    login = await sqlite_server.request(
        "POST", "/login", data={"email": "dana@example.com", "password": "trust no one 1", "csrf_token": token},
        allow_redirects=False,
    )
    assert login.status == 302

    promoted = await sqlite_server.request("PATCH", f"/api/v1/users/{created.body['id']}", admin, json={"role": "csm"})
    assert promoted.status == 200 and promoted.body["role"] == "csm"
    disabled = await sqlite_server.request(
        "PATCH", f"/api/v1/users/{created.body['id']}", admin, json={"disabled": True}
    )
    assert disabled.status == 200 and disabled.body["disabled"] is True and disabled.body["disabled_at"]
    refused = await sqlite_server.request(
        "POST", "/login", data={"email": "dana@example.com", "password": "trust no one 1", "csrf_token": token},
        allow_redirects=False,
    )
    assert refused.status == 401

    enabled = await sqlite_server.request("PATCH", f"/api/v1/users/{created.body['id']}", admin, json={"disabled": False})
    assert enabled.body["disabled"] is False

    # A disabled user's API token stops working too.
    host = sqlite_staff["host"]
    assert (await sqlite_server.request("GET", "/api/v1/sessions", host.token)).status == 200
    await sqlite_server.request("PATCH", f"/api/v1/users/{host.id}", admin, json={"disabled": True})
    assert (await sqlite_server.request("GET", "/api/v1/sessions", host.token)).status == 401
    # ... and nobody can hand them a session to host.
    session = {
        "kind": "webinar", "title": "Town hall", "starts_at": "2031-01-01T10:00:00Z", "duration_minutes": 30,
        "host_email": host.email,
    }
    refused = await sqlite_server.request("POST", "/api/v1/sessions", admin, json=session)
    assert refused.status == 400 and "disabled" in refused.body["error"]["message"]


async def test_only_admins_manage_users_bad_input_is_named_and_nobody_demotes_themselves(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    admin, csm = sqlite_staff["admin"], sqlite_staff["csm"]
    assert (await sqlite_server.request("GET", "/api/v1/users", csm.token)).status == 403
    body = {"email": "x@example.com", "role": "admin"}
    assert (await sqlite_server.request("POST", "/api/v1/users", csm.token, json=body)).status == 403
    assert (
        await sqlite_server.request("PATCH", f"/api/v1/users/{csm.id}", csm.token, json={"role": "admin"})
    ).status == 403

    bad_role = await sqlite_server.request("POST", "/api/v1/users", admin.token, json={**body, "role": "owner"})
    assert bad_role.status == 400 and "role" in bad_role.body["error"]["message"]
    short = await sqlite_server.request("POST", "/api/v1/users", admin.token, json={**body, "password": "short"})
    assert short.status == 400 and "password" in short.body["error"]["message"]
    taken = await sqlite_server.request("POST", "/api/v1/users", admin.token, json={**body, "email": csm.email})
    assert taken.status == 409 and csm.email in taken.body["error"]["message"]
    missing = await sqlite_server.request("PATCH", "/api/v1/users/nope", admin.token, json={"role": "host"})
    assert missing.status == 404
    empty = await sqlite_server.request("PATCH", f"/api/v1/users/{csm.id}", admin.token, json={})
    assert empty.status == 400
    null_role = await sqlite_server.request("PATCH", f"/api/v1/users/{csm.id}", admin.token, json={"role": None})
    assert null_role.status == 400 and "'role'" in null_role.body["error"]["message"]

    # Nobody changes their own role or access: the last admin would lock everyone out.
    for change in ({"disabled": True}, {"role": "host"}):
        refused = await sqlite_server.request("PATCH", f"/api/v1/users/{admin.id}", admin.token, json=change)
        assert refused.status == 409 and refused.body["error"]["code"] == "self_change"
    renamed = await sqlite_server.request("PATCH", f"/api/v1/users/{admin.id}", admin.token, json={"name": "Ada"})
    assert renamed.status == 200 and renamed.body["name"] == "Ada" and renamed.body["role"] == "admin"
