"""A project's activity feed and the comments its members leave on scenes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from reelforge.api import schemas
from reelforge.api.deps import CurrentUser, DbSession
from reelforge.db.crud import activity, projects
from reelforge.db.models import Role

router = APIRouter(prefix="/projects/{project_id}", tags=["activity"])


@router.get("/activity")
def read_activity(
    project_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[schemas.ActivityOut]:
    """Who did what, newest first: sharing, edits, renders submitted and finished, comments."""
    projects.accessible(session, user.id, project_id, need=Role.VIEWER)
    return [
        schemas.ActivityOut(
            at=entry.at, action=entry.action, actor=entry.actor, detail=entry.detail
        )
        for entry in activity.feed(session, project_id, limit=limit)
    ]


@router.get("/comments")
def list_comments(
    project_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    scene: Annotated[int | None, Query(ge=0, le=1000)] = None,
) -> list[schemas.CommentOut]:
    """Oldest first; one scene's with `scene`."""
    projects.accessible(session, user.id, project_id, need=Role.VIEWER)
    return [
        schemas.CommentOut(
            id=comment.id,
            scene=comment.scene,
            body=comment.body,
            author=(author.name or author.email) if author else None,
            created_at=comment.created_at,
        )
        for comment, author in activity.comments(session, project_id, scene=scene)
    ]


@router.post("/comments", status_code=status.HTTP_201_CREATED)
def add_comment(
    project_id: uuid.UUID, body: schemas.CommentIn, user: CurrentUser, session: DbSession
) -> schemas.CommentOut:
    """Any member may comment, viewers too."""
    projects.accessible(session, user.id, project_id, need=Role.VIEWER)
    added = activity.comment(session, project_id, user, body.scene, body.body.strip() or body.body)
    return schemas.CommentOut(
        id=added.id, scene=added.scene, author=user.name or user.email, body=added.body,
        created_at=added.created_at,
    )  # fmt: skip
