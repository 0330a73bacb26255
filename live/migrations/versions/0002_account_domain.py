"""accounts.domain (the company's email domain); sessions.sequence and cancelled_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import live.db.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("domain", sa.String(length=253), nullable=True))
        batch.create_index(batch.f("ix_accounts_domain"), ["domain"], unique=False)
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("sequence", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("cancelled_at", live.db.tables.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("cancelled_at")
        batch.drop_column("sequence")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index(batch.f("ix_accounts_domain"))
        batch.drop_column("domain")
