"""blob_tombstones: the files of deleted renders and projects, removed by the prune

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import reelforge.db.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC_DATETIME = reelforge.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blob_tombstones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.String(length=512), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("deleted_at", UTC_DATETIME, nullable=False),
        sa.Column("purge_after", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_blob_tombstones_due", "blob_tombstones", ["purge_after"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_blob_tombstones_due", table_name="blob_tombstones")
    op.drop_table("blob_tombstones")
