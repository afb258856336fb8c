"""projects_owner_index: a user's projects are found by owner through an index

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:40:00

Every project listing (`GET /api/v1/projects`, the dashboard's first request) scanned the
whole `projects` table, on both databases, twice (the page and its count): its cost grew
with every user's projects, not the caller's.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_projects_owner", "projects", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_projects_owner", table_name="projects")
