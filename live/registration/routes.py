"""The public registration page of an open session: `GET /r/{id}` shows the form, `POST /r/{id}` registers."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from live.api.client import client_address
from live.auth.identity import csrf_ok
from live.bus import BUS
from live.db.tables import LiveSession, User
from live.domain_events import ContactAdded, RegistrationCreated
from live.engagement.config import EngagementConfig
from live.pages.base import render
from live.registration import store
from live.registration.attempts import ATTEMPTS
from live.registration.model import UNASSIGNED, FormError, Registrant, Registration, check_form, questions_of
from live.sessions import store as sessions
from live.sessions.invitations import join_url
from live.sessions.model import SessionStatus
from live.typedefs import DB, ENGAGEMENT, SETTINGS
from live.webhooks import delivery
from live.webhooks import store as webhooks
from live.webhooks.model import WebhookEvent

routes = web.RouteTableDef()


def closed_reason(session: LiveSession | None) -> str | None:
    if session is None or session.registration != Registration.OPEN:
        return "This session does not take registrations. Ask its host for an invitation."
    if session.status == SessionStatus.ENDED:
        return f"{session.title!r} has ended; registration is closed."
    if session.status == SessionStatus.CANCELLED:
        return f"{session.title!r} was cancelled."
    return None


async def _page(request: web.Request, status: int = 200, **extra: Any) -> web.Response:
    async with request.app[DB]() as db:
        session = await db.get(LiveSession, request.match_info["id"])
        host = await db.get(User, session.host_id) if session is not None else None
    closed = closed_reason(session)
    public = session is not None and session.registration == Registration.OPEN
    values = {"session": session if public else None, "host": host, "closed": closed,
              "questions": questions_of(session.questions if session else None),
              "errors": {}, "form": {}, "join_url": None, "registered": None, "already": False, **extra}
    response = render(request, "register.html", None, **values)
    # An invite-only session is not there for the public; an ended or cancelled one is gone.
    response.set_status(404 if not public else 410 if closed else status)
    return response


@routes.get("/r/{id}")
async def registration_page(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post("/r/{id}")
async def register(request: web.Request) -> web.Response:
    form = {k: str(v) for k, v in (await request.post()).items()}
    if not csrf_ok(request, form.get("csrf_token", "")):
        return await _page(request, 403, form=form,
                           errors={"form": "This form expired. Please reload the page and send it again."})
    if not await request.app[ATTEMPTS].allow(client_address(request)):
        return await _page(request, 429, form=form,
                           errors={"form": "Too many registrations from your address. Please try again later."})
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        session = await db.get(LiveSession, request.match_info["id"])
        if closed_reason(session) is not None or session is None:
            return await _page(request, form=form)
        try:
            registrant = check_form(form, questions_of(session.questions))
        except FormError as exc:
            return await _page(request, 400, form=form, errors=exc.errors)
        matched, invitation_token, new_invite = await _register(
            db, session, registrant, request.app[ENGAGEMENT], settings.secret_key
        )
        await db.commit()
    bus = request.app[BUS]
    # A new person of a known company is that account's contact like any other (an onboarding account's
    # are invited to the next welcome seminar); strangers filed under "Unassigned" wait for a CSM instead.
    if matched.new_contact and matched.account.name != UNASSIGNED:
        await bus.publish(ContactAdded(matched.contact.id, matched.account.id))
    if new_invite:
        await bus.publish(RegistrationCreated(session.id, matched.contact.id))
    delivery.poke(request.app)
    return await _page(request, form={}, join_url=join_url(settings.public_url, invitation_token),
                       registered=registrant.name, already=not new_invite)


async def _register(
    db: AsyncSession, session: LiveSession, registrant: Registrant, config: EngagementConfig, secret: str
) -> tuple[store.Matched, str, bool]:
    """All or nothing, in the caller's transaction: the contact, the invitation, the answers, the webhook."""
    matched = await store.match(db, registrant, config)
    [invited] = await sessions.invite(db, secret, session, [matched.contact], reason="registration")
    if invited.new:
        await store.save(db, session.id, matched.contact.id, registrant)
        await webhooks.enqueue(db, WebhookEvent.REGISTRATION_CREATED.value, {
            "session_id": session.id, "contact_id": matched.contact.id, "account_id": matched.account.id,
            "name": matched.contact.name, "email": matched.contact.email, "company": registrant.company,
            "answers": registrant.answers, "new_contact": matched.new_contact,
        })
    return matched, invited.invitation.token, invited.new
