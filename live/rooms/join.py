"""Who is connecting to which session: the `/live` auth payload resolved against join tokens, API tokens and the login cookie."""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from live.auth.identity import LOGIN_COOKIE, LoginClaim, read_login_cookie
from live.auth.store import user_for_login, user_for_token
from live.chat.model import without_bidi_controls
from live.db.tables import Contact, Invitation, LiveSession, User
from live.errors import Forbidden, LiveError, NotFound, Unauthenticated
from live.rooms.joincache import JoinCache
from live.rooms.model import (
    Participant,
    RoomRole,
    contact_participant_id,
    role_for_staff,
    user_participant_id,
)
from live.sessions.invitations import read_join_token
from live.sessions.store import invitation_by_token

# Longest token we look at: join tokens are ~90 characters, API tokens 48; anything longer is garbage.
MAX_TOKEN = 400


class Refusal(LiveError):
    """A refused connection; the code says which of the documented reasons applies."""


@dataclass(frozen=True)
class Joining:
    participant: Participant
    session: dict[str, Any]  # {id, kind, title, host_id}
    status: str


def login_cookie_claim(secret: str, cookie_header: str) -> LoginClaim | None:
    """The (user, login session) in a `live_login` cookie (read as `live.auth.identity` reads it), if signed."""
    if not cookie_header:
        return None
    try:
        jar = SimpleCookie(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(LOGIN_COOKIE)
    if morsel is None or not morsel.value:
        return None
    return read_login_cookie(secret, morsel.value)


def parse_auth(auth: Any) -> tuple[str | None, str]:
    """(token or None, session id) from the connect payload; refuses anything else."""
    if not isinstance(auth, dict):
        raise Unauthenticated(
            "Connect with auth {\"token\": <join or API token>, \"session\": <session id>}; got "
            f"{type(auth).__name__}.",
            code="bad_auth",
        )
    extra = set(auth) - {"token", "session"}
    session_id = auth.get("session")
    token = auth.get("token")
    if not isinstance(session_id, str) or not session_id or len(session_id) > 64:
        raise Unauthenticated(f"'session' must be a session id; got {session_id!r}.", code="bad_auth")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN):
        raise Unauthenticated("'token' must be a join token or an API token string.", code="bad_auth")
    if extra:
        raise Unauthenticated(f"Unknown auth keys: {', '.join(sorted(map(str, extra)))}.", code="bad_auth")
    return (token or None), session_id


async def from_cache(cache: JoinCache, sessions: async_sessionmaker[AsyncSession], secret: str, auth: Any) -> Joining | None:
    """An invited attendee of an open session, answered from the process's join cache (the session and all
    its invitations, read once per process and storm: `live.rooms.joincache`). None for anything else,
    and for a token the cache does not know: `resolve` then reads the database and gives the precise
    refusal. Malformed auth is refused here exactly as `resolve` refuses it."""
    token, session_id = parse_auth(auth)
    if token is None:
        return None
    claim = read_join_token(secret, token)
    if claim is None or claim.session_id != session_id:
        return None
    facts = await cache.facts(session_id, sessions)
    if facts is None or facts.status in ("ended", "cancelled"):
        return None
    invitee = facts.invitees.get(token)
    if invitee is None or invitee.contact_id != claim.contact_id:
        return None
    participant = Participant(
        session_id=session_id,
        participant_id=contact_participant_id(invitee.contact_id),
        role=RoomRole.ATTENDEE,
        name=invitee.name,
        contact_id=invitee.contact_id,
    )
    return Joining(participant=participant, session=dict(facts.info), status=facts.status)


async def resolve(db: AsyncSession, secret: str, auth: Any, cookie_header: str) -> Joining:
    token, session_id = parse_auth(auth)
    if token is not None:
        claim = read_join_token(secret, token)
        if claim is not None and claim.session_id == session_id:
            admitted = await _invited(db, token, claim.contact_id, session_id)
            if admitted is not None:
                return admitted
    session = await db.get(LiveSession, session_id)
    if session is None:
        raise NotFound(f"Session {session_id!r} does not exist.", code="unknown_session")
    info = {"id": session.id, "kind": session.kind, "title": session.title, "host_id": session.host_id}

    participant: Participant | None = None
    if token is not None:
        claim = read_join_token(secret, token)
        if claim is not None:
            participant = await _contact(db, token, claim.session_id, claim.contact_id, session)
        else:
            user = await user_for_token(db, token)
            if user is None:
                raise Unauthenticated("That token is neither a valid join link nor an API token.", code="invalid_token")
            await db.commit()
            participant = _staff(user, session)
    else:
        # A signed-out or revoked login session no longer opens a room.
        login = login_cookie_claim(secret, cookie_header)
        user = await user_for_login(db, login.user_id, login.login_id) if login else None
        if user is None:
            raise Unauthenticated("Send auth.token (a join token or an API token), or sign in.", code="bad_auth")
        participant = _staff(user, session)

    if participant.role is RoomRole.ATTENDEE and session.status == "ended":
        raise Forbidden(f"Session {session.title!r} has ended.", code="session_ended")
    if session.status == "cancelled":
        raise Forbidden(f"Session {session.title!r} was cancelled.", code="session_cancelled")
    return Joining(participant=participant, session=info, status=session.status)


# The session and contact columns a join needs, for the one-query path below.
_INVITED = (
    select(
        LiveSession.id, LiveSession.kind, LiveSession.title, LiveSession.host_id, LiveSession.status,
        Contact.id, Contact.name,
    )
    .select_from(Invitation)
    .join(Contact, Contact.id == Invitation.contact_id)
    .join(LiveSession, LiveSession.id == Invitation.session_id)
)


async def _invited(db: AsyncSession, token: str, contact_id: str, session_id: str) -> Joining | None:
    """The common case, an invited attendee of an open session, in one query (a webinar's join storm
    is thousands of these: three ORM round trips each held the pool's connections three times as
    long). None for anything else: the full path below then finds the precise refusal."""
    row = (
        await db.execute(
            _INVITED.where(
                Invitation.token == token, Invitation.session_id == session_id, Invitation.contact_id == contact_id
            )
        )
    ).first()
    if row is None or row[4] in ("ended", "cancelled"):
        return None
    sid, kind, title, host_id, status, cid, name = row
    participant = Participant(
        session_id=sid,
        participant_id=contact_participant_id(cid),
        role=RoomRole.ATTENDEE,
        name=without_bidi_controls(name),
        contact_id=cid,
    )
    return Joining(participant=participant, session={"id": sid, "kind": kind, "title": title, "host_id": host_id}, status=status)


async def _contact(db: AsyncSession, token: str, claimed_session: str, contact_id: str, session: LiveSession) -> Participant:
    if claimed_session != session.id:
        raise Forbidden("This join link belongs to another session.", code="wrong_session")
    invitation: Invitation | None = await invitation_by_token(db, token)
    if invitation is None or invitation.contact_id != contact_id or invitation.session_id != session.id:
        raise Unauthenticated("This join link is no longer valid.", code="invalid_token")
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise Unauthenticated("This join link is no longer valid.", code="invalid_token")
    return Participant(
        session_id=session.id,
        participant_id=contact_participant_id(contact.id),
        role=RoomRole.ATTENDEE,
        name=without_bidi_controls(contact.name),
        contact_id=contact.id,
    )


def _staff(user: User, session: LiveSession) -> Participant:
    return Participant(
        session_id=session.id,
        participant_id=user_participant_id(user.id),
        role=role_for_staff(user.id, session.host_id),
        name=without_bidi_controls(user.name or user.email),
        user_id=user.id,
    )
