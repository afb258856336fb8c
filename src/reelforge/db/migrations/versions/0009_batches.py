"""batches: many renders submitted at once, one row per line of the upload

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import reelforge.db.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_DATETIME = reelforge.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.String(length=100), nullable=True),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_batches_owner", "batches", ["owner_id", "created_at"], unique=False)
    op.create_table(
        "batch_rows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("render_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["render_id"], ["render_jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "line", name="uq_batch_rows_line"),
    )
    op.create_index("ix_batch_rows_render", "batch_rows", ["render_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_batch_rows_render", table_name="batch_rows")
    op.drop_table("batch_rows")
    op.drop_index("ix_batches_owner", table_name="batches")
    op.drop_table("batches")
