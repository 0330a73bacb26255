"""recordings and replay_views: recorded webinars and who watched them

Revision ID: 0009
Revises: 0002
Create Date: 2026-11-29 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import live.db.tables

revision = "0009"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=40), nullable=True),
        sa.Column("started_at", live.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", live.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("screen_path", sa.Text(), nullable=True),
        sa.Column("chapters_path", sa.Text(), nullable=True),
        sa.Column("deleted_at", live.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_recordings_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recordings_session_id"), ["session_id"], unique=False)

    op.create_table(
        "replay_views",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("watched", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("position", sa.Float(), nullable=True),
        sa.Column("playing", sa.Boolean(), nullable=False),
        sa.Column("first_at", live.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reported_at", live.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_replay_views_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_replay_views_recording_id_recordings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_replay_views_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_views")),
        sa.UniqueConstraint("recording_id", "contact_id", name=op.f("uq_replay_views_recording_id")),
    )
    with op.batch_alter_table("replay_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replay_views_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_replay_views_recording_id"), ["recording_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_replay_views_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replay_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replay_views_session_id"))
        batch_op.drop_index(batch_op.f("ix_replay_views_recording_id"))
        batch_op.drop_index(batch_op.f("ix_replay_views_contact_id"))
    op.drop_table("replay_views")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_session_id"))
    op.drop_table("recordings")
