"""A project's activity feed (who did what, when) and the comments members leave on its
scenes. Finished renders join the feed from `render_jobs`, so the worker writes nothing
here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import FINAL_STATES, Activity, Comment, RenderJob, User


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    action: str
    actor_id: uuid.UUID | None
    actor: str | None
    """The actor's name or email; None for the system (a render finishing)."""
    detail: dict[str, Any]


def record(
    session: Session, project_id: uuid.UUID, actor_id: uuid.UUID | None, action: str, **detail: Any
) -> None:
    session.add(
        Activity(
            project_id=project_id, actor_id=actor_id, action=action,
            detail={key: str(value) for key, value in detail.items()},
        )
    )  # fmt: skip


def _who(user: User | None) -> str | None:
    return None if user is None else (user.name or user.email)


def feed(session: Session, project_id: uuid.UUID, *, limit: int) -> list[Entry]:
    """The newest `limit` entries, newest first."""
    recorded = session.execute(
        select(Activity, User)
        .outerjoin(User, User.id == Activity.actor_id)
        .where(Activity.project_id == project_id)
        .order_by(Activity.id.desc())
        .limit(limit)
    ).all()
    finished = session.execute(
        select(RenderJob.id, RenderJob.state, RenderJob.finished_at)
        .where(
            RenderJob.project_id == project_id,
            RenderJob.kind == "render",
            RenderJob.state.in_(FINAL_STATES),
            RenderJob.finished_at.is_not(None),
        )
        .order_by(RenderJob.finished_at.desc())
        .limit(limit)
    ).all()
    entries = [
        Entry(row.at, row.action, row.actor_id, _who(user), dict(row.detail))
        for row, user in recorded
    ] + [
        Entry(at, f"render_{state}", None, None, {"render_id": str(job_id)})
        for job_id, state, at in finished
        if at is not None  # the query's filter, which the type checker cannot see
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)[:limit]


def comment(
    session: Session, project_id: uuid.UUID, author: User, scene: int, body: str
) -> Comment:
    added = Comment(project_id=project_id, scene=scene, author_id=author.id, body=body)
    session.add(added)
    session.flush()
    record(session, project_id, author.id, "commented", scene=scene)
    return added


def comments(
    session: Session, project_id: uuid.UUID, *, scene: int | None
) -> list[tuple[Comment, User | None]]:
    """Oldest first, as a conversation reads; one scene's when `scene` is given."""
    where = [Comment.project_id == project_id]
    if scene is not None:
        where.append(Comment.scene == scene)
    rows = session.execute(
        select(Comment, User)
        .outerjoin(User, User.id == Comment.author_id)
        .where(*where)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    return [(row, user) for row, user in rows]
