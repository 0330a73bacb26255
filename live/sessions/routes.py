"""HTTP handlers for scheduling sessions and inviting contacts, and the .ics invite download."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from live.accounts.routes import iso
from live.api.parse import Body, When, json_body, validate
from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.auth.store import user_by_email
from live.db.tables import Contact, Invitation, LiveSession, User
from live.errors import Conflict, InvalidInput, NotFound
from live.sessions import store
from live.sessions.invitations import ics_invite, join_url, read_join_token
from live.sessions.model import SessionKind, SessionStatus
from live.typedefs import DB, SETTINGS

api = ApiRoutes("sessions")


class SessionIn(Body):
    kind: SessionKind
    title: str = Field(min_length=1, max_length=300)
    starts_at: When
    duration_minutes: int = Field(ge=5, le=24 * 60)
    host_email: str = Field(min_length=3, max_length=320)
    contact_ids: list[str] = Field(default_factory=list, max_length=5000)
    account_ids: list[str] = Field(default_factory=list, max_length=5000)


class InvitationsIn(Body):
    contact_ids: list[str] = Field(default_factory=list, max_length=5000)
    account_ids: list[str] = Field(default_factory=list, max_length=5000)


class SessionQuery(Body):
    status: SessionStatus | None = None
    kind: SessionKind | None = None


class SessionOut(Out):
    id: str
    kind: str
    title: str
    starts_at: str | None
    duration_minutes: int
    host_email: str | None
    host_name: str | None
    status: str
    started_at: str | None
    ended_at: str | None
    proposed: bool
    account_id: str | None
    host_url: str
    created_at: str | None


class InvitationOut(Out):
    contact_id: str
    account_id: str
    name: str
    email: str
    join_url: str
    token: str
    reason: str | None


class SessionDetailOut(SessionOut):
    invitations: list[InvitationOut]


class DroppedOut(Out):
    ok: bool
    id: str


def session_json(session: LiveSession, host: User | None, public_url: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "kind": session.kind,
        "title": session.title,
        "starts_at": iso(session.starts_at),
        "duration_minutes": session.duration_minutes,
        "host_email": host.email if host else None,
        "host_name": host.name if host else None,
        "status": session.status,
        "started_at": iso(session.started_at),
        "ended_at": iso(session.ended_at),
        "proposed": session.proposed,
        "account_id": session.account_id,
        "host_url": f"{public_url}/sessions/{session.id}/live",
        "created_at": iso(session.created_at),
    }


def invitation_json(invitation: Invitation, contact: Contact, public_url: str) -> dict[str, Any]:
    return {
        "contact_id": contact.id,
        "account_id": contact.account_id,
        "name": contact.name,
        "email": contact.email,
        "join_url": join_url(public_url, invitation.token),
        "token": invitation.token,
        "reason": invitation.reason,
    }


async def host_user(db: Any, email: str) -> User:
    user = await user_by_email(db, email)
    if user is None:
        raise InvalidInput(f"'host_email' has value {email!r}, which is not a staff user.")
    return user


@api.post("/api/v1/sessions", body=SessionIn, response=SessionDetailOut, status=201, summary="Schedule a session")
async def create_session(request: web.Request) -> web.Response:
    await require_staff(request, Action.WRITE_SESSIONS)
    body = await json_body(request, SessionIn)
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        host = await host_user(db, body.host_email)
        contacts = await store.contacts_for(db, body.contact_ids, body.account_ids)
        session = await store.create_session(
            db,
            kind=body.kind,
            title=body.title,
            starts_at=body.starts_at,
            duration_minutes=body.duration_minutes,
            host=host,
        )
        invited = await store.invite(db, settings.secret_key, session, contacts)
        await db.commit()
        payload = session_json(session, host, settings.public_url)
        payload["invitations"] = [invitation_json(i, c, settings.public_url) for i, c in invited]
    from live.engagement.automations import on_session_scheduled

    await on_session_scheduled(request.app, payload["id"])
    return web.json_response(payload, status=201)


@api.get("/api/v1/sessions", query=SessionQuery, response=list[SessionOut], summary="List sessions")
async def list_sessions(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_SESSIONS)
    query = validate(SessionQuery, {k: v for k, v in request.query.items() if v != ""})
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        sessions = await store.list_sessions(db, query.status, query.kind)
        hosts = {u.id: u for u in [await db.get(User, hid) for hid in {s.host_id for s in sessions}] if u}
        return web.json_response([session_json(s, hosts.get(s.host_id), settings.public_url) for s in sessions])


@api.get("/api/v1/sessions/{id}", response=SessionDetailOut, summary="One session with its invitations")
async def get_session(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_SESSIONS)
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        payload = session_json(session, await db.get(User, session.host_id), settings.public_url)
        payload["invitations"] = [
            invitation_json(i, c, settings.public_url) for i, c in await store.invitations_of(db, session.id)
        ]
        return web.json_response(payload)


@api.post("/api/v1/sessions/{id}/invitations", body=InvitationsIn, response=list[InvitationOut], summary="Invite contacts or whole accounts")
async def invite(request: web.Request) -> web.Response:
    await require_staff(request, Action.WRITE_SESSIONS)
    body = await json_body(request, InvitationsIn)
    if not body.contact_ids and not body.account_ids:
        raise InvalidInput("Name at least one of 'contact_ids' or 'account_ids'.")
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        contacts = await store.contacts_for(db, body.contact_ids, body.account_ids)
        invited = await store.invite(db, settings.secret_key, session, contacts)
        await db.commit()
        return web.json_response([invitation_json(i, c, settings.public_url) for i, c in invited])


@api.get("/api/v1/sessions/{id}/invitations", response=list[InvitationOut], summary="A session\u2019s invitations")
async def list_invitations(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_SESSIONS)
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        rows = await store.invitations_of(db, session.id)
        return web.json_response([invitation_json(i, c, settings.public_url) for i, c in rows])


@api.post("/api/v1/sessions/{id}/confirm", response=SessionOut, errors=(409,), summary="Confirm a proposed check-in")
async def confirm_session(request: web.Request) -> web.Response:
    """A CSM confirms a check-in the engine proposed: it stays scheduled, no longer proposed."""
    await require_staff(request, Action.WRITE_SESSIONS)
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        if not session.proposed:
            raise Conflict(f"Session {session.title!r} is not a proposed check-in.", code="not_proposed")
        session.proposed = False
        await db.commit()
        return web.json_response(session_json(session, await db.get(User, session.host_id), settings.public_url))


@api.delete("/api/v1/sessions/{id}", response=DroppedOut, errors=(409,), summary="Drop a session that has not started")
async def drop_session(request: web.Request) -> web.Response:
    """Drops a session that has not started (a proposed check-in the CSM does not want, say)."""
    await require_staff(request, Action.WRITE_SESSIONS)
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        if session.status != SessionStatus.SCHEDULED:
            raise Conflict(f"Session {session.title!r} is {session.status}; only a scheduled one can be dropped.")
        await db.delete(session)
        await db.commit()
    return web.json_response({"ok": True, "id": request.match_info["id"]})


@api.get("/join/{token}.ics", auth="join_token", media_type="text/calendar", summary="The invitation as an .ics file")
async def ics(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    token = request.match_info["token"]
    claim = read_join_token(settings.secret_key, token)
    async with request.app[DB]() as db:
        invitation = await store.invitation_by_token(db, token) if claim else None
        if invitation is None:
            raise NotFound("This invitation link is not valid.")
        session = await store.get_session(db, invitation.session_id)
        contact = await db.get(Contact, invitation.contact_id)
        host = await db.get(User, session.host_id)
        assert contact is not None and host is not None
        body = ics_invite(
            uid=f"{invitation.id}@live",
            title=session.title,
            starts_at=session.starts_at,
            duration_minutes=session.duration_minutes,
            url=join_url(settings.public_url, token),
            organizer_email=host.email,
            organizer_name=host.name,
            attendee_email=contact.email,
            attendee_name=contact.name,
            description=f"{session.title} ({session.kind.replace('_', ' ')}) hosted by {host.name}.",
        )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="invite.ics"'},
    )
