"""clip strings stored before every storyboard string had a bound

Projects saved before the bounds (#22) may hold settings or storyboards the API can no
longer read back (a 500 on GET /projects). The bounds are copied here as they were when
this revision was written, so later changes to the model cannot change what it does.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 08:50:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SETTINGS_BOUNDS = {"language": (35, "en"), "voice": (200, "joe"), "template_id": (100, None)}
"""field: (max characters, the value an empty one becomes, where empty is not allowed)"""
TITLE_CHARS = 200
KEYWORD_CHARS = 100
MAX_KEYWORDS = 20
NARRATION_CHARS = 5000
QUERY_CHARS = 500


def _clip_settings(settings: dict[str, Any]) -> dict[str, Any]:
    clipped = dict(settings)
    for name, (limit, empty) in SETTINGS_BOUNDS.items():
        value = clipped.get(name)
        if isinstance(value, str):
            clipped[name] = value[:limit] or empty
    return clipped


def _clip_scene(scene: dict[str, Any]) -> dict[str, Any]:
    clipped = dict(scene)
    if isinstance(clipped.get("headline"), str):
        clipped["headline"] = clipped["headline"][:TITLE_CHARS]
    if isinstance(clipped.get("keywords"), list):
        keywords = [k[:KEYWORD_CHARS] for k in clipped["keywords"] if isinstance(k, str)]
        clipped["keywords"] = keywords[:MAX_KEYWORDS]
    visual = clipped.get("visual")
    if isinstance(visual, dict):
        visual = dict(visual)
        for name, limit in (("prompt", NARRATION_CHARS), ("query", QUERY_CHARS)):
            if isinstance(visual.get(name), str):
                visual[name] = visual[name][:limit]
        clipped["visual"] = visual
    return clipped


def _clip_storyboard(storyboard: dict[str, Any]) -> dict[str, Any]:
    clipped = dict(storyboard)
    if isinstance(clipped.get("title"), str):
        clipped["title"] = clipped["title"][:TITLE_CHARS]
    if isinstance(clipped.get("settings"), dict):
        clipped["settings"] = _clip_settings(clipped["settings"])
    if isinstance(clipped.get("scenes"), list):
        clipped["scenes"] = [
            _clip_scene(s) if isinstance(s, dict) else s for s in clipped["scenes"]
        ]
    return clipped


def upgrade() -> None:
    projects = sa.table(
        "projects",
        sa.column("id", sa.Uuid()),
        sa.column("settings", sa.JSON()),
        sa.column("storyboard", sa.JSON()),
    )
    conn = op.get_bind()
    for row in conn.execute(sa.select(projects)).all():
        settings = _clip_settings(row.settings) if isinstance(row.settings, dict) else row.settings
        storyboard = (
            _clip_storyboard(row.storyboard) if isinstance(row.storyboard, dict) else row.storyboard
        )
        if settings != row.settings or storyboard != row.storyboard:
            conn.execute(
                projects.update()
                .where(projects.c.id == row.id)
                .values(settings=settings, storyboard=storyboard)
            )


def downgrade() -> None:
    """Nothing to undo: the clipped text is gone, and the shorter values are valid before too."""
