"""assets: users' uploaded images, clips and songs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import reelforge.db.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "owner_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.Column("thumbnail_key", sa.String(512), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("codec", sa.String(40), nullable=True),
        sa.Column("tags", sa.String(1100), nullable=False),
        sa.Column("created_at", reelforge.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", reelforge.db.models.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assets_owner", "assets", ["owner_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_assets_owner", table_name="assets")
    op.drop_table("assets")
