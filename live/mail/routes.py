"""HTTP handlers for mail: the admin's message list, the staff page of recent mail, one-click unsubscribe."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from sqlalchemy import update

from live.api.spec import ApiRoutes, Out
from live.auth.identity import require_staff
from live.auth.model import Action
from live.db.tables import Contact, Mail
from live.errors import NotFound
from live.isotime import iso
from live.mail import store
from live.mail.compose import stamped
from live.mail.model import MailStatus
from live.mail.sender import eml_path
from live.mail.triggers import read_unsubscribe_token
from live.pages.base import render, staff_or_login
from live.typedefs import DB, SETTINGS

routes = web.RouteTableDef()  # the /mail and unsubscribe pages
api = ApiRoutes("mail")

LIST_LIMIT = 200


def mail_json(mail: Mail) -> dict[str, Any]:
    return {
        "id": mail.id,
        "to": mail.to_email,
        "to_name": mail.to_name,
        "subject": mail.subject,
        "kind": mail.kind,
        "status": mail.status,
        "session_id": mail.session_id,
        "contact_id": mail.contact_id,
        "attempts": mail.attempts,
        "error": mail.last_error,
        "at": iso(mail.sent_at or mail.created_at),
        "queued_at": iso(mail.created_at),
        "sent_at": iso(mail.sent_at),
    }


def _status_filter(request: web.Request) -> str | None:
    status = request.query.get("status") or None
    if status is not None and status not in {s.value for s in MailStatus}:
        from live.errors import InvalidInput

        raise InvalidInput(f"'status' has value {status!r}; use one of {', '.join(s.value for s in MailStatus)}.")
    return status


@api.get("/api/v1/mail", response=Out, summary="The last messages and the counts per state (admin)")
async def list_mail(request: web.Request) -> web.Response:
    await require_staff(request, Action.READ_MAIL)
    status = _status_filter(request)
    async with request.app[DB]() as db:
        rows = await store.recent(db, LIST_LIMIT, status)
        counts = await store.counts(db)
    return web.json_response({"counts": counts, "messages": [mail_json(m) for m in rows]})


@routes.get("/mail")
async def mail_page(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.READ_SESSIONS)
    status = _status_filter(request)
    async with request.app[DB]() as db:
        rows = await store.recent(db, LIST_LIMIT, status)
        failures = await store.recent(db, 20, MailStatus.FAILED.value) if status is None else []
        counts = await store.counts(db)
    settings = request.app[SETTINGS]
    return render(request, "mail.html", staff, messages=rows, failures=failures, counts=counts, status=status,
                  smtp=bool(settings.smtp_url), mail_dir=settings.mail_path)


async def _mail(request: web.Request) -> Mail:
    async with request.app[DB]() as db:
        mail = await db.get(Mail, request.match_info["id"])
    if mail is None:
        raise NotFound(f"Message {request.match_info['id']!r} does not exist.")
    return mail


def _raw(request: web.Request, mail: Mail) -> bytes:
    path = eml_path(request.app[SETTINGS], mail)
    if path is not None and path.is_file():
        return path.read_bytes()
    return stamped(mail.message, mail.sent_at or mail.created_at).encode()


@routes.get("/mail/{id}.eml")
async def mail_file(request: web.Request) -> web.Response:
    await staff_or_login(request, Action.READ_SESSIONS)
    mail = await _mail(request)
    return web.Response(body=_raw(request, mail), content_type="message/rfc822",
                        headers={"Content-Disposition": f'attachment; filename="{mail.id}.eml"'})


@routes.get("/mail/{id}")
async def mail_message_page(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.READ_SESSIONS)
    mail = await _mail(request)
    parsed = email.message_from_bytes(_raw(request, mail), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    headers = [(k, str(parsed[k])) for k in ("Date", "From", "To", "Subject", "Message-ID", "List-Unsubscribe")
               if parsed[k] is not None]
    attachments = [p.get_filename() for p in parsed.iter_attachments()]
    return render(request, "mail_message.html", staff, mail=mail, headers=headers,
                  text=str(text.get_content()) if text else "", html=str(html.get_content()) if html else "",
                  attachments=attachments)


@routes.get("/unsubscribe/{token}")
async def unsubscribe_page(request: web.Request) -> web.Response:
    contact = await _contact_for(request)
    return render(request, "unsubscribe.html", None, contact=contact, done=contact.unsubscribed_at is not None,
                  token=request.match_info["token"])


@routes.post("/unsubscribe/{token}")
async def unsubscribe(request: web.Request) -> web.Response:
    """RFC 8058 one-click: a mail client POSTs `List-Unsubscribe=One-Click`; the signed token is the proof,
    so no cookie or CSRF token is asked for (the client has neither)."""
    contact = await _contact_for(request)
    async with request.app[DB]() as db:
        await db.execute(
            update(Contact).where(Contact.id == contact.id, Contact.unsubscribed_at.is_(None))
            .values(unsubscribed_at=datetime.now(UTC))
        )
        await db.commit()
    return render(request, "unsubscribe.html", None, contact=contact, done=True, token=request.match_info["token"])


async def _contact_for(request: web.Request) -> Contact:
    contact_id = read_unsubscribe_token(request.app[SETTINGS].secret_key, request.match_info["token"])
    async with request.app[DB]() as db:
        contact = await db.get(Contact, contact_id) if contact_id else None
    if contact is None:
        raise NotFound("This unsubscribe link is not valid.")
    return contact
