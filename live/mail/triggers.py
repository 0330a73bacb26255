"""When mail is queued: invitations, updates and cancels as things happen, reminders before, follow-ups after.

Each function is a bus subscriber or a sweep wired in `live.app`. Every message is queued under a key
that names it ("reminder:<session>:<contact>:1h"), so two processes, a retry or a repeated event queue it
once; the send loop (`live.mail.sender`) does the sending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.background import running
from live.db.tables import Contact, Invitation, LiveSession, User, new_id
from live.domain_events import (
    ContactInvited,
    ContactUninvited,
    RegistrationCreated,
    SessionCancelled,
    SessionEnded,
    SessionRescheduled,
)
from live.engagement.report import AttendanceRow
from live.mail import sender
from live.mail.compose import Batch, Composer
from live.mail.model import MailKind, due_reminder, offset_label, reminder_wanted
from live.mail.store import Draft, existing_keys, queue
from live.recordings import store as recordings
from live.sessions import store as sessions
from live.sessions.invitations import IcsTemplate, join_url, make_join_token
from live.sessions.model import SessionKind, SessionStatus
from live.settings import Settings
from live.typedefs import DB, ENGAGEMENT, SETTINGS

log = logging.getLogger(__name__)

KIND_LABELS = {
    SessionKind.WEBINAR.value: "webinar",
    SessionKind.WELCOME_SEMINAR.value: "welcome seminar",
    SessionKind.ONE_ON_ONE.value: "one-on-one video call",
}
UNSUBSCRIBE_SALT = "unsubscribe"


def unsubscribe_token(secret: str, contact_id: str) -> str:
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps(contact_id)


def read_unsubscribe_token(secret: str, token: str) -> str | None:
    if not token or len(token) > 200:
        return None
    try:
        value = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def invitee_no_show(row: AttendanceRow) -> bool:
    """Was this invitee a no-show? The attendance report's own rule (DESIGN.md), asked in this one place."""
    return row.invited and row.no_show


@dataclass
class Drafting:
    """What every message of one session needs: settings, templates, the session and its host.

    The parts every invitee shares (the rendered templates, per kind) are made once and kept here, so a
    session's 10,000 invitations cost one render and 10,000 substitutions (`live.mail.compose.Batch`).
    """

    settings: Settings
    composer: Composer
    session: LiveSession
    host: User | None
    batches: dict[tuple[MailKind, str], Batch] = field(default_factory=dict)
    calendars: dict[bool, IcsTemplate] = field(default_factory=dict)  # by "is a cancel"

    def context(self) -> dict[str, Any]:
        s = self.session
        return {
            "title": s.title,
            "starts_at": s.starts_at,
            "duration_minutes": s.duration_minutes,
            "kind_label": KIND_LABELS.get(s.kind, s.kind),
            "host_name": (self.host.name or self.host.email) if self.host else "Your host",
        }

    def ics(self, contact: Contact, token: str, cancel: bool = False) -> bytes:
        template = self.calendars.get(cancel)
        if template is None:
            s = self.session
            host_email = self.host.email if self.host else self.settings.sender
            template = self.calendars[cancel] = IcsTemplate(
                session_id=s.id, title=s.title, starts_at=s.starts_at, duration_minutes=s.duration_minutes,
                public_url=self.settings.public_url, organizer_email=host_email,
                organizer_name=(self.host.name if self.host else "") or host_email,
                description=f"{s.title} ({KIND_LABELS.get(s.kind, s.kind)}).", sequence=s.sequence, cancel=cancel,
                stamp=datetime.now(UTC),
            )
        return template.render(contact_id=contact.id, token=token, attendee_email=contact.email,
                               attendee_name=contact.name)

    def draft(self, key: str, kind: MailKind, contact: Contact, extra: dict[str, Any] | None = None,
              calendar: str | None = None, not_after: datetime | None = None, shared: bool = True,
              token: str | None = None) -> Draft:
        """`shared`: `extra` is the same for everyone of the session (else the message is rendered in full);
        `token`: the invitation's stored join token, when the caller has it (else it is signed again)."""
        unsubscribe = None
        if kind.unsubscribable:
            unsubscribe = f"{self.settings.public_url}/unsubscribe/{unsubscribe_token(self.settings.secret_key, contact.id)}"
        token = token or make_join_token(self.settings.secret_key, self.session.id, contact.id)
        url = join_url(self.settings.public_url, token)
        ics = self.ics(contact, token, cancel=calendar == "CANCEL") if calendar else None
        if shared:
            batch_key = (kind, repr(sorted((extra or {}).items())))
            batch = self.batches.get(batch_key)
            if batch is None:
                batch = self.batches[batch_key] = self.composer.batch(
                    kind, {**self.context(), **(extra or {})}, unsubscribe=unsubscribe is not None
                )
            composed = batch.compose(to_email=contact.email, to_name=contact.name, join_url=url, ics=ics,
                                     ics_method=calendar or "REQUEST", unsubscribe_url=unsubscribe)
        else:
            composed = self.composer.compose(
                kind, to_email=contact.email, to_name=contact.name,
                context={**self.context(), "join_url": url, **(extra or {})}, ics=ics,
                ics_method=calendar or "REQUEST", unsubscribe_url=unsubscribe,
            )
        return Draft(key=key, kind=kind, to_email=contact.email, to_name=contact.name, subject=composed.subject,
                     message=composed.message, session_id=self.session.id, contact_id=contact.id,
                     not_after=not_after)


MAIL_COMPOSER = web.AppKey("mail_composer", Composer)


async def drafting(app: web.Application, db: AsyncSession, session: LiveSession) -> Drafting:
    return Drafting(app[SETTINGS], app[MAIL_COMPOSER], session, await db.get(User, session.host_id))


async def _queue_and_poke(app: web.Application, db: AsyncSession, drafts: Sequence[Draft]) -> int:
    count = await queue(db, drafts)
    await db.commit()
    if count:
        sender.poke(app)
    return count


# --- invitations ------------------------------------------------------------------------------


# Invitations rendered and committed at a time (about a second of CPU on a busy core).
RENDER_CHUNK = 100


def invitation_key(session_id: str, contact_id: str) -> str:
    """The first invitation mail of a person to a session (a confirmation of a registration takes it too)."""
    return f"invitation:{session_id}:{contact_id}"


async def queue_seeded_invitations(
    db: AsyncSession, settings: Settings, session: LiveSession, host: User, contacts: Sequence[Contact]
) -> int:
    """For `live demo`, which seeds without a running app: the same invitation mails, in its transaction."""
    draft = Drafting(settings, Composer(settings.sender, settings.public_url), session, host)
    return await queue(db, [
        draft.draft(invitation_key(session.id, c.id), MailKind.INVITATION, c, calendar="REQUEST") for c in contacts
    ])


class InvitationBatcher:
    """Gathers the `ContactInvited` events of one burst (an account of 10,000 invited at once) into one
    transaction, queued in a task of its own so the publisher does not wait; `close` waits for it."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.pending: list[ContactInvited] = []
        self.task: asyncio.Future[None] | None = None

    async def add(self, event: ContactInvited) -> None:
        self.pending.append(event)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())

    async def close(self) -> None:
        while self.task is not None and not self.task.done():
            await asyncio.gather(self.task, return_exceptions=True)

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the rest of the burst arrive
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await queue_invitations(self.app, batch)
            except Exception:
                log.exception("queueing %d invitation mails failed", len(batch))


INVITATION_BATCHER = web.AppKey("invitation_batcher", InvitationBatcher)


async def on_contact_invited(app: web.Application, event: ContactInvited) -> None:
    await app[INVITATION_BATCHER].add(event)


async def queue_invitations(app: web.Application, events: Sequence[ContactInvited],
                            kind: MailKind = MailKind.INVITATION) -> int:
    """One invitation per (session, contact); a repeat sends again only when it asks to (`resend`)."""
    by_session: dict[str, dict[str, bool]] = {}
    for e in events:
        wanted = by_session.setdefault(e.session_id, {})
        wanted[e.contact_id] = wanted.get(e.contact_id, False) or e.resend
    total = 0
    async with app[DB]() as db:
        for session_id, wanted in by_session.items():
            session = await db.get(LiveSession, session_id)
            if session is None or session.status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
                continue
            draft = await drafting(app, db, session)
            contacts = await _invited_contacts(db, session_id, list(wanted))
            keys = {c.id: invitation_key(session_id, c.id) for c, _ in contacts}
            known = await existing_keys(db, keys.values())
            # In chunks, each committed and handed to the sender at once: the first mails leave while the
            # rest render, no transaction holds SQLite's write lock for long, and the event loop serves
            # requests between chunks (rendering is CPU work).
            for start in range(0, len(contacts), RENDER_CHUNK):
                drafts = []
                for contact, token in contacts[start : start + RENDER_CHUNK]:
                    key = keys[contact.id]
                    if key in known:
                        if not wanted[contact.id]:
                            continue
                        key = f"{key}:{new_id()}"  # an explicit resend is a message of its own
                    drafts.append(draft.draft(key, kind, contact, calendar="REQUEST", token=token))
                total += await _queue_and_poke(app, db, drafts)
                await asyncio.sleep(0)
        await db.commit()
    if total:
        log.info("queued %d invitation mails", total)
    return total


async def _invited_contacts(db: AsyncSession, session_id: str, contact_ids: list[str]) -> list[tuple[Contact, str]]:
    """Each invited contact with their invitation's join token."""
    found: list[tuple[Contact, str]] = []
    for start in range(0, len(contact_ids), 500):
        found += (
            await db.execute(
                select(Contact, Invitation.token)
                .join(Invitation, Invitation.contact_id == Contact.id)
                .where(Invitation.session_id == session_id, Contact.id.in_(contact_ids[start : start + 500]))
            )
        ).tuples().all()
    return found


async def on_registration_created(app: web.Application, event: RegistrationCreated) -> None:
    """A self-registration gets its confirmation, which is its invitation (same key: never both)."""
    await queue_invitations(app, [ContactInvited(event.session_id, event.contact_id)], kind=MailKind.CONFIRMATION)


async def on_session_rescheduled(app: web.Application, event: SessionRescheduled) -> None:
    """Everyone invited gets the new time; the reschedule raised the calendar entry's SEQUENCE."""
    async with app[DB]() as db:
        session = await db.get(LiveSession, event.session_id)
        if session is None or session.status != SessionStatus.SCHEDULED:
            return
        draft = await drafting(app, db, session)
        drafts = [
            draft.draft(f"update:{session.id}:{c.id}:{session.sequence}", MailKind.UPDATE, c, calendar="REQUEST",
                        token=i.token)
            for i, c in await sessions.invitations_of(db, session.id)
        ]
        await _queue_and_poke(app, db, drafts)


async def on_session_cancelled(app: web.Application, event: SessionCancelled) -> None:
    async with app[DB]() as db:
        session = await db.get(LiveSession, event.session_id)
        if session is None:
            log.warning("%s: cancelled, but it is gone: no cancellations can be sent", event.session_id)
            return
        draft = await drafting(app, db, session)
        drafts = [
            draft.draft(f"cancel:{session.id}:{c.id}:{session.sequence}", MailKind.CANCEL, c, calendar="CANCEL",
                        token=i.token)
            for i, c in await sessions.invitations_of(db, session.id)
        ]
        await _queue_and_poke(app, db, drafts)


async def on_contact_uninvited(app: web.Application, event: ContactUninvited) -> None:
    async with app[DB]() as db:
        session = await db.get(LiveSession, event.session_id)
        contact = await db.get(Contact, event.contact_id)
        if session is None or contact is None or session.status != SessionStatus.SCHEDULED:
            return
        draft = await drafting(app, db, session)
        key = f"cancel:{session.id}:{contact.id}:{new_id()}"  # invited and un-invited again: a new message
        await _queue_and_poke(app, db, [draft.draft(key, MailKind.CANCEL, contact, {"uninvited": True}, "CANCEL")])


# --- reminders --------------------------------------------------------------------------------


def starts_in_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    if minutes % 1440 == 0:
        n, unit = minutes // 1440, "day"
    elif minutes % 60 == 0:
        n, unit = minutes // 60, "hour"
    else:
        n, unit = minutes, "minute"
    return f"{n} {unit}{'' if n == 1 else 's'}"


async def queue_due_reminders(app: web.Application, now: datetime | None = None) -> int:
    """Queues the reminders whose moment has come; run by every process, each reminder queued once."""
    settings = app[SETTINGS]
    if not settings.reminders:
        return 0
    now = now or datetime.now(UTC)
    total = 0
    async with app[DB]() as db:
        upcoming = (
            await db.execute(
                select(LiveSession).where(
                    LiveSession.status == SessionStatus.SCHEDULED.value,
                    LiveSession.starts_at > now,
                    LiveSession.starts_at <= now + max(settings.reminders),
                )
            )
        ).scalars().all()
        for session in upcoming:
            offset = due_reminder(settings.reminders, session.starts_at, now)
            if offset is None:
                continue
            label = offset_label(offset)
            pairs = [
                (i, c) for i, c in await sessions.invitations_of(db, session.id)
                if reminder_wanted(offset, session.starts_at, i.created_at)
            ]
            keys = {c.id: f"reminder:{session.id}:{c.id}:{label}" for _, c in pairs}
            known = await existing_keys(db, keys.values())
            todo = [(i, c) for i, c in pairs if keys[c.id] not in known]
            if not todo:
                continue
            draft = await drafting(app, db, session)
            extra = {"starts_in": starts_in_text(offset)}
            drafts = [draft.draft(keys[c.id], MailKind.REMINDER, c, extra, not_after=session.starts_at, token=i.token)
                      for i, c in todo]
            total += await _queue_and_poke(app, db, drafts)
    return total


# --- follow-ups -------------------------------------------------------------------------------


async def on_session_ended(app: web.Application, event: SessionEnded) -> None:
    await queue_follow_ups(app, event.session_id)


async def queue_follow_ups(app: web.Application, session_id: str) -> int:
    """Thanks everyone who came and tells each invited no-show we missed them (with the next welcome
    seminar they are invited to). Independent of scoring: a session too short to score still thanks people.
    When the session has a finished recording, each mail carries that person's own replay link (their
    invitation's token opens `/replay/{token}`); the recorder is stopped before this runs (see live.app)."""
    from live.engagement import store as engagement_store
    from live.engagement.automations import next_welcome_seminar
    from live.engagement.whatif import latest_config

    now = datetime.now(UTC)
    async with app[DB]() as db:
        session = await db.get(LiveSession, session_id)
        if session is None or session.status != SessionStatus.ENDED:
            return 0
        # The configuration in force (an admin may have applied a new version) decides who was a no-show.
        report = await engagement_store.build_report(db, session, now, await latest_config(db, app[ENGAGEMENT]))
        kinds: dict[str, MailKind] = {}
        for row in report.rows:
            if row.contact_id is None:
                continue
            if row.present_seconds > 0:
                kinds[row.contact_id] = MailKind.THANK_YOU
            elif invitee_no_show(row):
                kinds[row.contact_id] = MailKind.MISSED_YOU
        keys = {cid: f"follow_up:{session_id}:{cid}" for cid in kinds}
        known = await existing_keys(db, keys.values())
        todo = [cid for cid in kinds if keys[cid] not in known]
        if not todo:
            return 0
        contacts = {c.id: c for c in (await db.execute(select(Contact).where(Contact.id.in_(todo)))).scalars()}
        next_seminar = None
        if session.kind == SessionKind.WELCOME_SEMINAR:
            next_seminar = await next_welcome_seminar(db, now)
        next_invited: set[str] = set()
        if next_seminar is not None:
            next_invited = set((await db.execute(
                select(Invitation.contact_id).where(Invitation.session_id == next_seminar.id,
                                                    Invitation.contact_id.in_(todo))
            )).scalars())
        replay_tokens: dict[str, str] = {}
        if await recordings.latest_ready(db, session_id) is not None:
            replay_tokens = dict((await db.execute(
                select(Invitation.contact_id, Invitation.token).where(Invitation.session_id == session_id,
                                                                       Invitation.contact_id.in_(todo))
            )).tuples().all())
        public_url = app[SETTINGS].public_url
        draft = await drafting(app, db, session)
        drafts = []
        for cid in todo:
            contact = contacts.get(cid)
            if contact is None:
                continue
            replay_url = f"{public_url}/replay/{replay_tokens[cid]}" if cid in replay_tokens else None
            extra: dict[str, Any] = {"replay_url": replay_url}
            if kinds[cid] is MailKind.MISSED_YOU and next_seminar is not None and cid in next_invited:
                token = make_join_token(app[SETTINGS].secret_key, next_seminar.id, cid)
                extra |= {"next_title": next_seminar.title, "next_starts_at": next_seminar.starts_at,
                          "next_join_url": join_url(app[SETTINGS].public_url, token)}
            drafts.append(draft.draft(keys[cid], kinds[cid], contact, extra, shared=False))
        return await _queue_and_poke(app, db, drafts)


# A session ended this long ago with follow-ups still owed was dropped by a stopped process, not in flight.
FOLLOW_UP_GRACE = timedelta(minutes=2)
FOLLOW_UP_WINDOW = timedelta(days=1)


async def queue_missed_follow_ups(app: web.Application, now: datetime | None = None) -> int:
    """Follow-ups of sessions that ended in the last day while no process was there to hear it."""
    from live.db.tables import Mail

    now = now or datetime.now(UTC)
    async with app[DB]() as db:
        ended = (
            await db.execute(
                select(LiveSession.id).where(
                    LiveSession.status == SessionStatus.ENDED.value,
                    LiveSession.ended_at <= now - FOLLOW_UP_GRACE,
                    LiveSession.ended_at > now - FOLLOW_UP_WINDOW,
                    ~select(Mail.id).where(
                        Mail.session_id == LiveSession.id,
                        Mail.kind.in_([MailKind.THANK_YOU.value, MailKind.MISSED_YOU.value]),
                    ).exists(),
                )
            )
        ).scalars().all()
    total = 0
    for session_id in ended:
        total += await queue_follow_ups(app, session_id)
    return total


async def sweep_ctx(app: web.Application) -> AsyncIterator[None]:
    """Every `reminder_interval` seconds: due reminders, and follow-ups a stopped process never queued."""
    interval = app[SETTINGS].reminder_interval

    async def loop() -> None:
        while True:
            for sweep in (queue_due_reminders, queue_missed_follow_ups):
                try:
                    await sweep(app)
                except Exception:
                    log.exception("mail sweep %s failed; the next one retries", sweep.__name__)
            await asyncio.sleep(interval)

    async with running(loop(), name="mail-sweeps"):
        yield
