"""The two room pages: the attendee's `/join/{token}` and the host console `/sessions/{id}/live`.

Both render a prejoin check and an empty room; `web/static/js/room.js` connects to `/live` and fills it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from live.auth.model import Action
from live.db.tables import Contact, LiveSession, User
from live.errors import NotFound
from live.pages.base import render, routes, staff_or_login
from live.polls import store as poll_store
from live.rooms.model import RoomRole, role_for_staff
from live.sessions import store as sessions
from live.sessions.invitations import read_join_token
from live.typedefs import DB, SETTINGS


def room_config(
    request: web.Request, session: LiveSession, *, role: RoomRole, name: str, token: str | None
) -> dict[str, Any]:
    """What the page script needs, embedded as JSON (Jinja's `tojson` escapes it for a <script>)."""
    return {
        "session": {"id": session.id, "kind": session.kind, "title": session.title, "status": session.status},
        "role": role.value,
        "name": name,
        "token": token,
        "ice_servers": request.app[SETTINGS].ice_servers,
    }


@routes.get("/join/{token}")
async def join(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    token = request.match_info["token"]
    claim = read_join_token(settings.secret_key, token)
    async with request.app[DB]() as db:
        invitation = await sessions.invitation_by_token(db, token) if claim else None
        if invitation is None:
            raise NotFound(
                "This join link is not valid. Check that you copied the whole link, or ask your host for a new one."
            )
        session = await db.get(LiveSession, invitation.session_id)
        contact = await db.get(Contact, invitation.contact_id)
        if session is None or contact is None:
            raise NotFound("This session no longer exists.")
        host = await db.get(User, session.host_id)
    if session.status == "ended":
        # Said on the first screen, before anyone checks a camera for a room that is closed.
        return render(request, "join_ended.html", None, session=session, contact=contact, host=host)
    return render(
        request,
        "join.html",
        None,
        session=session,
        contact=contact,
        host=host,
        config=room_config(request, session, role=RoomRole.ATTENDEE, name=contact.name, token=token),
    )


@routes.get("/sessions/{id}/live")
async def host_console(request: web.Request) -> web.Response:
    staff = await staff_or_login(request, Action.RUN_SESSIONS)
    async with request.app[DB]() as db:
        session = await sessions.get_session(db, request.match_info["id"])
        drafts = [
            {"id": s.poll.id, "question": s.poll.question, "options": list(s.poll.options)}
            for s in await poll_store.polls_of_session(db, session.id)
            if s.poll.status == "draft"
        ]
    role = role_for_staff(staff.id, session.host_id)
    config = room_config(request, session, role=role, name=staff.name or staff.email, token=None)
    config["drafts"] = drafts
    return render(
        request,
        "host.html",
        staff,
        session=session,
        config=config,
    )
