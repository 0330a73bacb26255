"""Scheduling sessions, inviting contacts, join links and .ics invites, against SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from icalendar import Calendar

from live.bus import BUS
from live.domain_events import ContactInvited, ContactUninvited, SessionCancelled, SessionRescheduled
from tests.conftest import LiveServer, StaffMember

STARTS = "2030-03-01T15:00:00+00:00"


async def account_with_contacts(server: LiveServer, token: str, name: str, *people: str) -> dict[str, Any]:
    account = (await server.request("POST", "/api/v1/accounts", token, json={"name": name, "plan": "p", "mrr": 100})).body
    account["contacts"] = []
    for person in people:
        email = f"{person.lower()}@{name.lower()}.test"
        contact = await server.request(
            "POST", f"/api/v1/accounts/{account['id']}/contacts", token, json={"name": person, "email": email}
        )
        account["contacts"].append(contact.body)
    return account


async def schedule(server: LiveServer, token: str, **fields: Any) -> Any:
    body = {
        "kind": "webinar",
        "title": "Quarterly product update",
        "starts_at": STARTS,
        "duration_minutes": 45,
        "host_email": "host@example.com",
        **fields,
    }
    return await server.request("POST", "/api/v1/sessions", token, json=body)


async def test_a_host_schedules_a_webinar_and_invites_an_account(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    acme = await account_with_contacts(server, staff["csm"].token, "Acme", "Ann", "Bob")
    created = await schedule(server, staff["host"].token, account_ids=[acme["id"]])
    assert created.status == 201, created.body
    session = created.body
    assert session["status"] == "scheduled" and session["kind"] == "webinar"
    assert session["starts_at"] == STARTS and session["host_email"] == "host@example.com"
    assert sorted(i["name"] for i in session["invitations"]) == ["Ann", "Bob"]
    for invitation in session["invitations"]:
        assert invitation["join_url"] == f"{server.url}/join/{invitation['token']}"

    fetched = await server.request("GET", f"/api/v1/sessions/{session['id']}", staff["csm"].token)
    assert fetched.status == 200 and fetched.body["status"] == "scheduled"
    assert len(fetched.body["invitations"]) == 2


async def test_re_inviting_returns_the_same_link(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    acme = await account_with_contacts(server, staff["csm"].token, "Acme", "Ann")
    session = (await schedule(server, staff["host"].token)).body
    path = f"/api/v1/sessions/{session['id']}/invitations"
    first = await server.request("POST", path, staff["host"].token, json={"contact_ids": [acme["contacts"][0]["id"]]})
    again = await server.request("POST", path, staff["host"].token, json={"account_ids": [acme["id"]]})
    assert first.status == again.status == 200
    assert first.body[0]["join_url"] == again.body[0]["join_url"]
    assert first.body[0]["contact_id"] == acme["contacts"][0]["id"]


async def test_a_join_link_opens_a_page_and_a_forged_one_a_friendly_404(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    acme = await account_with_contacts(server, staff["csm"].token, "Acme", "Ann")
    session = (await schedule(server, staff["host"].token, contact_ids=[acme["contacts"][0]["id"]])).body
    token = session["invitations"][0]["token"]
    page = await server.request("GET", f"/join/{token}")
    assert page.status == 200 and "Quarterly product update" in page.text and "Ann" in page.text
    forged = await server.request("GET", f"/join/{token[:-3]}abc")
    assert forged.status == 404 and "not valid" in forged.text and "<html" in forged.text
    unknown = await server.request("GET", "/join/whatever")
    assert unknown.status == 404


async def test_each_invitation_has_an_ics_invite(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    acme = await account_with_contacts(server, staff["csm"].token, "Acme", "Ann")
    session = (await schedule(server, staff["host"].token, account_ids=[acme["id"]])).body
    invitation = session["invitations"][0]
    response = await server.request("GET", f"/join/{invitation['token']}.ics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/calendar")
    event = next(c for c in Calendar.from_ical(response.text).walk() if c.name == "VEVENT")
    assert str(event["summary"]) == "Quarterly product update"
    assert event.decoded("dtstart").isoformat() == STARTS
    assert (event.decoded("dtend") - event.decoded("dtstart")).total_seconds() == 45 * 60
    assert invitation["join_url"] in str(event["description"])
    assert str(event["attendee"]).lower() == "mailto:ann@acme.test"
    assert (await server.request("GET", "/join/forged.ics")).status == 404


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"kind": "party"}, "'kind'"),
        ({"starts_at": "2030-03-01T15:00:00"}, "time zone"),
        ({"starts_at": "tomorrow"}, "'starts_at'"),
        ({"duration_minutes": 0}, "'duration_minutes'"),
        ({"duration_minutes": 100000}, "'duration_minutes'"),
        ({"title": ""}, "'title'"),
        ({"host_email": "ghost@example.com"}, "not a staff user"),
        ({"contact_ids": ["nope"]}, "Contact 'nope' does not exist"),
        ({"account_ids": ["nope"]}, "Account 'nope' does not exist"),
        ({"room": "blue"}, "'room' Extra inputs"),
    ],
)
async def test_bad_session_bodies_get_a_400_naming_the_problem(
    server: LiveServer, staff: dict[str, StaffMember], fields: dict[str, Any], fragment: str
) -> None:
    response = await schedule(server, staff["host"].token, **fields)
    assert response.status == 400, response.body
    assert fragment in response.body["error"]["message"]


async def test_a_one_on_one_holds_at_most_five_contacts(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    big = await account_with_contacts(server, staff["csm"].token, "Big", "A", "B", "C", "D", "E", "F")
    response = await schedule(server, staff["csm"].token, kind="one_on_one", account_ids=[big["id"]])
    assert response.status == 400 and "at most 5 contacts" in response.body["error"]["message"]
    ok = await schedule(
        server, staff["csm"].token, kind="one_on_one", contact_ids=[c["id"] for c in big["contacts"][:5]]
    )
    assert ok.status == 201 and len(ok.body["invitations"]) == 5


async def test_sessions_need_staff_credentials(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    assert (await schedule(server, "live_wrong")).status == 401
    session = (await schedule(server, staff["host"].token)).body
    assert (await server.request("GET", f"/api/v1/sessions/{session['id']}")).status == 401
    assert (await server.request("GET", "/api/v1/sessions/none", staff["host"].token)).status == 404
    empty = await server.request("POST", f"/api/v1/sessions/{session['id']}/invitations", staff["host"].token, json={})
    assert empty.status == 400


async def test_listing_filters_by_status_and_kind(server: LiveServer, staff: dict[str, StaffMember]) -> None:
    await schedule(server, staff["host"].token, title="One")
    await schedule(server, staff["host"].token, title="Two", kind="welcome_seminar")
    seminars = await server.request("GET", "/api/v1/sessions?kind=welcome_seminar", staff["host"].token)
    assert [s["title"] for s in seminars.body] == ["Two"]
    bad = await server.request("GET", "/api/v1/sessions?status=paused", staff["host"].token)
    assert bad.status == 400 and "paused" in bad.body["error"]["message"]


async def test_a_welcome_seminar_invites_every_onboarding_account(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    await account_with_contacts(server, staff["csm"].token, "Acme", "Ann")
    await account_with_contacts(server, staff["csm"].token, "Beta", "Bea")
    seminar = (await schedule(server, staff["host"].token, kind="welcome_seminar", title="Welcome!")).body
    invited = await server.request("GET", f"/api/v1/sessions/{seminar['id']}/invitations", staff["host"].token)
    assert sorted((i["name"], i["reason"]) for i in invited.body) == [("Ann", "onboarding"), ("Bea", "onboarding")]
    # A contact added later to an onboarding account is invited to the next seminar too.
    late = await account_with_contacts(server, staff["csm"].token, "Gamma", "Gus")
    invited = await server.request("GET", f"/api/v1/sessions/{seminar['id']}/invitations", staff["host"].token)
    assert late["contacts"][0]["id"] in {i["contact_id"] for i in invited.body}


def record_domain_events(server: LiveServer, *kinds: type) -> list[Any]:
    """Every published event of `kinds`, in order, as a subscriber wired like the app's own would see them."""
    seen: list[Any] = []

    async def subscriber(app: Any, event: Any) -> None:
        seen.append(event)

    for kind in kinds:
        server.app[BUS].subscribe(kind, subscriber)
    return seen


async def test_a_scheduled_session_is_rescheduled_and_its_sequence_goes_up(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    seen = record_domain_events(server, SessionRescheduled)
    session = (await schedule(server, staff["host"].token)).body
    assert session["sequence"] == 0
    path = f"/api/v1/sessions/{session['id']}"

    moved = await server.request(
        "PATCH", path, staff["csm"].token, json={"starts_at": "2030-03-02T09:30:00-05:00", "duration_minutes": 60}
    )
    assert moved.status == 200, moved.body
    assert moved.body["starts_at"] == "2030-03-02T14:30:00+00:00" and moved.body["duration_minutes"] == 60
    assert moved.body["sequence"] == 1
    same = await server.request("PATCH", path, staff["csm"].token, json={"duration_minutes": 60})
    assert same.status == 200 and same.body["sequence"] == 1  # nothing changed, nobody is told again
    assert [e.session_id for e in seen] == [session["id"]]

    renamed = await server.request("PATCH", path, staff["csm"].token, json={"title": "Roadmap", "host_email": "csm@example.com"})
    assert (renamed.body["title"], renamed.body["host_email"], renamed.body["sequence"]) == ("Roadmap", "csm@example.com", 2)

    for bad, word in (({}, "Nothing to change"), ({"title": None}, "title"), ({"starts_at": "2030-03-02T09:30:00"}, "starts_at"),
                      ({"host_email": "nobody@example.com"}, "host_email"), ({"duration_minutes": 1}, "duration_minutes")):
        refused = await server.request("PATCH", path, staff["csm"].token, json=bad)
        assert refused.status == 400 and word in refused.body["error"]["message"], (bad, refused.body)
    missing = await server.request("PATCH", "/api/v1/sessions/nope", staff["csm"].token, json={"title": "x"})
    assert missing.status == 404


async def test_a_cancelled_session_stays_listed_its_links_say_so_and_it_cannot_change_again(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    seen = record_domain_events(server, SessionCancelled)
    acme = await account_with_contacts(server, staff["csm"].token, "Acme", "Ann")
    session = (await schedule(server, staff["host"].token, account_ids=[acme["id"]])).body
    path = f"/api/v1/sessions/{session['id']}"

    cancelled = await server.request("DELETE", path, staff["csm"].token)
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["status"] == "cancelled" and cancelled.body["cancelled_at"] is not None
    assert cancelled.body["sequence"] == 1
    assert [e.session_id for e in seen] == [session["id"]]

    fetched = await server.request("GET", path, staff["csm"].token)
    assert fetched.body["status"] == "cancelled" and len(fetched.body["invitations"]) == 1
    again = await server.request("DELETE", path, staff["csm"].token)
    assert again.status == 409 and "cancelled" in again.body["error"]["message"]
    edit = await server.request("PATCH", path, staff["csm"].token, json={"title": "Back on"})
    assert edit.status == 409
    invite = await server.request("POST", f"{path}/invitations", staff["csm"].token, json={"account_ids": [acme["id"]]})
    assert invite.status == 400 and "cancelled" in invite.body["error"]["message"]
    attendee = await server.request("DELETE", path, None)
    assert attendee.status == 401


async def test_an_uninvited_contact_loses_the_link_and_staff_hear_of_it_once(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    seen = record_domain_events(server, ContactInvited, ContactUninvited)
    acme = await account_with_contacts(server, staff["csm"].token, "Acme", "Ann", "Bob")
    ann, bob = acme["contacts"]
    session = (await schedule(server, staff["host"].token, contact_ids=[ann["id"]])).body
    path = f"/api/v1/sessions/{session['id']}/invitations"
    added = await server.request("POST", path, staff["csm"].token, json={"contact_ids": [ann["id"], bob["id"]]})
    assert added.status == 200
    resent = await server.request("POST", path, staff["csm"].token, json={"contact_ids": [ann["id"]], "resend": True})
    assert resent.status == 200
    assert [(type(e).__name__, e.contact_id, getattr(e, "resend", None)) for e in seen] == [
        ("ContactInvited", ann["id"], False),  # scheduled with Ann
        ("ContactInvited", bob["id"], False),  # Bob added; Ann's repeat invite sends nothing
        ("ContactInvited", ann["id"], True),  # asked to send again
    ]

    bob_link = next(i for i in added.body if i["contact_id"] == bob["id"])["join_url"]
    gone = await server.request("DELETE", f"{path}/{bob['id']}", staff["csm"].token)
    assert gone.status == 204
    assert isinstance(seen[-1], ContactUninvited) and seen[-1].contact_id == bob["id"]
    listed = await server.request("GET", path, staff["csm"].token)
    assert [i["contact_id"] for i in listed.body] == [ann["id"]]
    page = await server.http.get(bob_link)
    assert page.status == 404
    twice = await server.request("DELETE", f"{path}/{bob['id']}", staff["csm"].token)
    assert twice.status == 404 and "not invited" in twice.body["error"]["message"]
