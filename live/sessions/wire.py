"""Sessions and invitations as JSON: the one wire format the API, webhooks and pages share."""

from __future__ import annotations

from typing import Any

from live.db.tables import Contact, Invitation, LiveSession, Mail, User
from live.isotime import iso
from live.mail.store import email_status
from live.registration.model import Registration
from live.sessions.invitations import join_url


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
        "sequence": session.sequence or 0,
        "cancelled_at": iso(session.cancelled_at),
        "started_at": iso(session.started_at),
        "ended_at": iso(session.ended_at),
        "proposed": session.proposed,
        "registration": session.registration,
        "questions": session.questions or [],
        "registration_url": f"{public_url}/r/{session.id}" if session.registration == Registration.OPEN else None,
        "account_id": session.account_id,
        "host_url": f"{public_url}/sessions/{session.id}/live",
        "created_at": iso(session.created_at),
    }


def invitation_json(
    invitation: Invitation, contact: Contact, public_url: str, mail: Mail | None = None
) -> dict[str, Any]:
    return {
        "contact_id": contact.id,
        "account_id": contact.account_id,
        "name": contact.name,
        "email": contact.email,
        "join_url": join_url(public_url, invitation.token),
        "token": invitation.token,
        "reason": invitation.reason,
        "email_status": email_status(mail),
        "sent_at": iso(mail.sent_at) if mail is not None else None,
    }
