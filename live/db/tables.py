"""Every table of the product, in one metadata so Alembic sees the whole schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware on the way out on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BigInteger does not autoincrement on SQLite; the variant keeps INTEGER PRIMARY KEY there.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # IANA zone of the staff member's working hours (proposed check-ins); None means UTC.
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by an admin: the user can no longer sign in or use API tokens; the row stays for history.
    disabled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Null for tokens made before expiry existed: they keep working until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class LoginSession(Base):
    """One signed-in browser: its login cookie names this row, and a revoked or expired row ends it."""

    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(100))
    mrr: Mapped[float] = mapped_column(Float)
    ltv: Mapped[float] = mapped_column(Float)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    csm_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # The company's email domain (e.g. "acme.com"): a self-registered person with that domain joins this account.
    domain: Mapped[str | None] = mapped_column(String(253), nullable=True, index=True)
    tier: Mapped[str] = mapped_column(String(16))
    tier_source: Mapped[str] = mapped_column(String(16), default="engine")
    tier_override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    tier_override_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    phase: Mapped[str] = mapped_column(String(16), default="onboarding")
    phase_source: Mapped[str] = mapped_column(String(16), default="engine")
    phase_override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    phase_override_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    engagement: Mapped[float | None] = mapped_column(Float, nullable=True)
    health: Mapped[str] = mapped_column(String(16), default="neutral")
    # The engine's memory between evaluations (dwell times, consecutive passes, at-risk flag).
    engine_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("account_id", "email"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    # Set by a one-click unsubscribe: reminders and follow-ups are suppressed, invitations still go.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveSession(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column()
    duration_minutes: Mapped[int] = mapped_column(Integer)
    host_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # Goes up by one each time the time, length, title or host changes: the SEQUENCE of its calendar invites.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # When the engagement loop scored this ended session; NULL on an ended session means still to do.
    scored_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # A check-in the engine proposed for an at-risk account waits for its CSM to confirm or drop it.
    proposed: Mapped[bool] = mapped_column(Boolean, default=False)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), nullable=True, index=True)
    # "invite_only" or "open" (a public page at /r/{id}); `questions` are asked there: [{id, text, required}].
    registration: Mapped[str] = mapped_column(String(16), default="invite_only", server_default="invite_only")
    questions: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("session_id", "contact_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(200), unique=True)
    # Why it was sent: "manual", "onboarding", "no_show" (automations say which rule invited).
    reason: Mapped[str] = mapped_column(String(32), default="manual")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Registration(Base):
    """A person who registered on an open session's public page, with their answers to its questions."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("session_id", "contact_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    company: Mapped[str | None] = mapped_column(String(200), nullable=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mail(Base):
    """The mail outbox: one row per message, rendered when queued, sent once by whichever process claims it.

    `key` makes queueing idempotent across processes ("reminder:<invitation>:<offset>" is inserted once).
    Session and contact are plain ids, not foreign keys: the record of what was sent outlives them.
    """

    __tablename__ = "mails"
    __table_args__ = (
        Index("ix_mails_due", "status", "next_attempt_at"),
        Index("ix_mails_session_contact", "session_id", "contact_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    contact_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300))
    # The whole RFC 5322 message but its Date header, which is stamped when it is sent.
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A reminder is worthless once its session started: not sent after this moment (marked suppressed).
    not_after: Mapped[datetime | None] = mapped_column(nullable=True)
    # The sweep that holds it until `next_attempt_at` (its lease); a crashed sender's rows come due again.
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Event(Base):
    """The append-only event log: the truth every attendance figure and score is derived from."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_session_seq", "session_id", "id"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(32), index=False)
    participant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Poll(Base):
    __tablename__ = "polls"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column()
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    opened_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollVote(Base):
    """Who voted. `choices` is NULL for an anonymous poll: its choices live only in PollTally."""

    __tablename__ = "poll_votes"
    __table_args__ = (UniqueConstraint("poll_id", "participant_id"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    poll_id: Mapped[str] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[str] = mapped_column(String(40))
    choices: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class PollTally(Base):
    """Per-option counters of an anonymous poll: no row here says who chose what."""

    __tablename__ = "poll_tallies"
    poll_id: Mapped[str] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True)
    option: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class SessionScore(Base):
    """A person's derived score for one session, with its components (recomputable from events)."""

    __tablename__ = "session_scores"
    __table_args__ = (UniqueConstraint("session_id", "contact_id"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    ended_at: Mapped[datetime] = mapped_column()
    score: Mapped[float] = mapped_column(Float)
    attended: Mapped[bool] = mapped_column(Boolean)
    components: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_version: Mapped[str] = mapped_column(String(64), default="")


class AccountHistory(Base):
    __tablename__ = "account_history"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    old: Mapped[str | None] = mapped_column(String(32), nullable=True)
    new: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="engine")
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    numbers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    config_version: Mapped[str] = mapped_column(String(64), default="")
    actor: Mapped[str | None] = mapped_column(String(320), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column()
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one row per (webhook, message), retried with backoff until delivered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(48))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class JobRun(Base):
    """Which process last ran a periodic job; a conditional UPDATE elects exactly one runner."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column()
    runner: Mapped[str] = mapped_column(String(64), default="")


class Recording(Base):
    """A recording of a webinar or welcome seminar; its files are under `Settings.recordings_path`."""

    __tablename__ = "recordings"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    # recording -> ready -> deleted (files gone, row kept so replay figures stay explainable).
    status: Mapped[str] = mapped_column(String(16), default="recording")
    started_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # File names relative to the recordings directory; NULL when nothing of that kind was recorded.
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    screen_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    chapters_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Every publisher but the presenter (co-hosts, speakers from the audience), one file each:
    # `[{"participant_id", "path"}]` in the order they first published; NULL when there were none.
    speaker_paths: Mapped[list[Any] | None] = mapped_column(nullable=True)
    # While `recording`: when its process last said it is still making it (`live.recordings.salvage`).
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ReplayView(Base):
    """What one invited contact has watched of one recording (the stretches, so nothing counts twice)."""

    __tablename__ = "replay_views"
    __table_args__ = (UniqueConstraint("recording_id", "contact_id"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    watched: Mapped[list[Any]] = mapped_column(default=list)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    position: Mapped[float | None] = mapped_column(Float, nullable=True)
    playing: Mapped[bool] = mapped_column(Boolean, default=False)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None] = mapped_column(nullable=True)


class EngagementConfigVersion(Base):
    """One applied engagement configuration (weights and thresholds); the newest row is in force.
    `LIVE_ENGAGEMENT` is only the default until the first row exists."""

    __tablename__ = "engagement_configs"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64))
    values: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
