"""mail outbox, unsubscribes, open registration with questions

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-29 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import live.db.tables

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("unsubscribed_at", live.db.tables.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("registration", sa.String(length=16), nullable=False, server_default="invite_only")
        )
        batch.add_column(sa.Column("questions", sa.JSON(), nullable=True))
    op.create_table(
        "registrations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("created_at", live.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_registrations_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_registrations_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("session_id", "contact_id", name=op.f("uq_registrations_session_id")),
    )
    op.create_index(op.f("ix_registrations_session_id"), "registrations", ["session_id"], unique=False)
    op.create_index(op.f("ix_registrations_contact_id"), "registrations", ["contact_id"], unique=False)
    op.create_table(
        "mails",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=True),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("to_name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", live.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", live.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", live.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", live.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mails")),
        sa.UniqueConstraint("key", name=op.f("uq_mails_key")),
    )
    op.create_index("ix_mails_due", "mails", ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_mails_session_contact", "mails", ["session_id", "contact_id"], unique=False)
    op.create_index(op.f("ix_mails_claim"), "mails", ["claim"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_mails_claim"), table_name="mails")
    op.drop_index("ix_mails_session_contact", table_name="mails")
    op.drop_index("ix_mails_due", table_name="mails")
    op.drop_table("mails")
    op.drop_index(op.f("ix_registrations_contact_id"), table_name="registrations")
    op.drop_index(op.f("ix_registrations_session_id"), table_name="registrations")
    op.drop_table("registrations")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("questions")
        batch.drop_column("registration")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("unsubscribed_at")
