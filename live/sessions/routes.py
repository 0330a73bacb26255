"""HTTP handlers for scheduling sessions and inviting contacts, and the .ics invite download."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from live.api.parse import Body, When, json_body, validate
from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.auth.store import user_by_email
from live.bus import BUS
from live.db.tables import Contact, User
from live.domain_events import ContactInvited, ContactUninvited, SessionCancelled, SessionRescheduled, SessionScheduled
from live.errors import Conflict, InvalidInput, NotFound
from live.mail import store as mail_store
from live.registration.model import Registration, check_questions
from live.sessions import store
from live.sessions.invitations import ics_invite, ics_uid, join_url, read_join_token
from live.sessions.model import SessionKind, SessionStatus, check_room_empty
from live.sessions.wire import invitation_json, session_json
from live.typedefs import DB, ROOM_STATE, SETTINGS

api = ApiRoutes("sessions")


class SessionIn(Body):
    kind: SessionKind
    title: str = Field(min_length=1, max_length=300)
    starts_at: When
    duration_minutes: int = Field(ge=5, le=24 * 60)
    host_email: str = Field(min_length=3, max_length=320)
    contact_ids: list[str] = Field(default_factory=list, max_length=5000)
    account_ids: list[str] = Field(default_factory=list, max_length=5000)
    registration: Registration = Registration.INVITE_ONLY
    questions: list[QuestionIn] = Field(default_factory=list)


class QuestionIn(Body):
    id: str | None = None
    text: str
    required: bool = False


class InvitationsIn(Body):
    contact_ids: list[str] = Field(default_factory=list, max_length=5000)
    account_ids: list[str] = Field(default_factory=list, max_length=5000)
    # Send the invitation mail again to people invited before (a new invitation always sends one).
    resend: bool = False


class SessionPatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    starts_at: When | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    host_email: str | None = Field(default=None, min_length=3, max_length=320)
    registration: Registration | None = None
    questions: list[QuestionIn] | None = None


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
    sequence: int
    cancelled_at: str | None
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


async def host_user(db: AsyncSession, email: str) -> User:
    user = await user_by_email(db, email)
    if user is None:
        raise InvalidInput(f"'host_email' has value {email!r}, which is not a staff user.")
    if user.disabled_at is not None:
        raise InvalidInput(f"'host_email' has value {email!r}, a disabled staff user, who cannot run a session.")
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
        session.registration = body.registration.value
        session.questions = [q.as_json() for q in check_questions([q.model_dump() for q in body.questions])]
        invited = await store.invite(db, settings.secret_key, session, contacts)
        await db.commit()
        payload = session_json(session, host, settings.public_url)
        payload["invitations"] = [invitation_json(x.invitation, x.contact, settings.public_url) for x in invited]
        payload["warnings"] = [w.as_dict() for w in await store.warnings_for(db, session, datetime.now(UTC))]
    bus = request.app[BUS]
    await bus.publish(SessionScheduled(session.id))
    for x in invited:
        await bus.publish(ContactInvited(session.id, x.contact.id))
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
        states = await mail_store.invitation_states(db, session.id)
        payload["invitations"] = [
            invitation_json(i, c, settings.public_url, states.get(c.id))
            for i, c in await store.invitations_of(db, session.id)
        ]
        payload["warnings"] = [w.as_dict() for w in await store.warnings_for(db, session, datetime.now(UTC))]
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
        states = await mail_store.invitation_states(db, session.id)
        payload = [invitation_json(x.invitation, x.contact, settings.public_url, states.get(x.contact.id))
                   for x in invited]
    for x in invited:
        if x.new or body.resend:
            await request.app[BUS].publish(ContactInvited(session.id, x.contact.id, resend=not x.new))
    return web.json_response(payload)


@api.patch("/api/v1/sessions/{id}", body=SessionPatch, response=SessionOut, errors=(409,), summary="Edit or reschedule a session that has not started")
async def patch_session(request: web.Request) -> web.Response:
    """Edits or reschedules a session that has not started; invitees hear of it (SessionRescheduled)."""
    await require_staff(request, Action.WRITE_SESSIONS)
    body = await json_body(request, SessionPatch)
    given = body.model_fields_set
    if not given:
        raise InvalidInput(
            "Nothing to change: send title, starts_at, duration_minutes, host_email, registration or questions."
        )
    for field in given & {"title", "starts_at", "duration_minutes", "host_email", "registration", "questions"}:
        if getattr(body, field) is None:
            raise InvalidInput(f"'{field}' cannot be null.")
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        changes: dict[str, object] = {f: getattr(body, f) for f in ("title", "duration_minutes") if f in given}
        if body.starts_at is not None:
            changes["starts_at"] = body.starts_at.astimezone(UTC)
        if "host_email" in given:
            changes["host_id"] = (await host_user(db, body.host_email or "")).id
        # Who may register, and what they are asked, is no news for invitees: no update mail for it.
        if body.registration is not None:
            session.registration = body.registration.value
        if body.questions is not None:
            session.questions = [q.as_json() for q in check_questions([q.model_dump() for q in body.questions])]
        changed = await store.reschedule(db, session, changes) if changes else False
        await db.commit()
        payload = session_json(session, await db.get(User, session.host_id), settings.public_url)
        payload["warnings"] = [w.as_dict() for w in await store.warnings_for(db, session, datetime.now(UTC))]
    if changed:
        await request.app[BUS].publish(SessionRescheduled(session.id))
    return web.json_response(payload)


@api.delete("/api/v1/sessions/{id}/invitations/{contact_id}", status=204, errors=(409,), summary="Un-invite a contact: the join link stops working")
async def uninvite(request: web.Request) -> web.Response:
    await require_staff(request, Action.WRITE_SESSIONS)
    session_id, contact_id = request.match_info["id"], request.match_info["contact_id"]
    async with request.app[DB]() as db:
        session = await store.get_session(db, session_id)
        await store.uninvite(db, session, contact_id)
        await db.commit()
    await request.app[BUS].publish(ContactUninvited(session_id, contact_id))
    return web.Response(status=204)


@api.get("/api/v1/sessions/{id}/invitations", response=list[InvitationOut], summary="A session\u2019s invitations")
async def list_invitations(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_SESSIONS)
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        rows = await store.invitations_of(db, session.id)
        states = await mail_store.invitation_states(db, session.id)
        return web.json_response([invitation_json(i, c, settings.public_url, states.get(c.id)) for i, c in rows])


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
        payload = session_json(session, await db.get(User, session.host_id), settings.public_url)
        invited = [c.id for _, c in await store.invitations_of(db, session.id)]
    # A proposed check-in's people hear of it only now, once their CSM has confirmed it.
    for contact_id in invited:
        await request.app[BUS].publish(ContactInvited(session.id, contact_id))
    return web.json_response(payload)


@api.delete("/api/v1/sessions/{id}", response=SessionOut, errors=(409,), summary="Cancel a session that has not started")
async def cancel_session(request: web.Request) -> web.Response:
    """Cancels a session that has not started (or a proposed check-in the CSM does not want). The row
    and its invitations stay, so join links and the schedule can say it was cancelled."""
    await require_staff(request, Action.WRITE_SESSIONS)
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await store.get_session(db, request.match_info["id"])
        check_room_empty(session.title, len(await request.app[ROOM_STATE].participants(session.id)))
        await store.cancel(db, session)
        await db.commit()
        payload = session_json(session, await db.get(User, session.host_id), settings.public_url)
    await request.app[BUS].publish(SessionCancelled(session.id))
    return web.json_response(payload)


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
            uid=ics_uid(session.id, contact.id),
            sequence=session.sequence or 0,
            cancel=session.status == SessionStatus.CANCELLED,
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
