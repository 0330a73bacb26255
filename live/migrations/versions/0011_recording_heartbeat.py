"""recordings.heartbeat_at: the process making a recording says so every few seconds, so a recording whose
process died is recognised and finished by another one (live.recordings.salvage)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import live.db.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", live.db.tables.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
