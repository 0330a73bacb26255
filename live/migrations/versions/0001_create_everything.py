"""create everything

Revision ID: 0001
Revises:
Create Date: 2026-11-26

While the first release is being built this revision creates the schema straight from
`live.db.tables`; it is frozen into explicit operations before the first release.
"""

from __future__ import annotations

from alembic import op

from live.db.tables import Base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    Base.metadata.create_all(bind=op.get_bind())


def downgrade() -> None:
    Base.metadata.drop_all(bind=op.get_bind())
