"""Render jobs as users see them: read, list, queue position, lookup by idempotency key.

A render's job belongs to its project's owner (who is charged for it); members of the
project read it too.

Submitting (plan limits, then enqueue) is `jobs/submissions.py`: the queue calls
persistence, never the reverse."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelforge.db.crud.projects import Page, role_of
from reelforge.db.models import JobState, Project, RenderJob, Role
from reelforge.errors import Forbidden, NotFound

RenderSort = Literal["created_at", "-created_at"]


def accessible(
    session: Session, user_id: uuid.UUID, render_id: uuid.UUID, *, need: Role
) -> RenderJob:
    """The render, if the user's role on it allows `need`: its owner has every role, a
    member of its project their role there (viewers read, editors cancel and retry).

    Raises:
        NotFound: a stranger's (its existence is not told). Forbidden: a role too low.
    """
    job = session.get(RenderJob, render_id)
    if job is None or job.kind != "render":
        raise NotFound("render not found", stage="input")
    role: Role | None = Role.OWNER if job.owner_id == user_id else None
    if role is None and job.project_id is not None:
        project = session.get(Project, job.project_id)
        role = role_of(session, user_id, project) if project is not None else None
    if role is None:
        raise NotFound("render not found", stage="input")
    if not role.includes(need):
        raise Forbidden(f"this needs the {need} role on the render's project (you are {role})")
    return job


def by_idempotency_key(session: Session, owner_id: uuid.UUID, key: str) -> RenderJob | None:
    return session.scalar(
        select(RenderJob).where(RenderJob.owner_id == owner_id, RenderJob.idempotency_key == key)
    )


def listing(
    session: Session,
    owner_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    sort: RenderSort,
    state: JobState | None,
    project_id: uuid.UUID | None,
) -> Page:
    """The owner's renders; with `project_id`, every render of that project, whoever's
    plan paid for it (the caller checked that the user may see the project)."""
    where = [RenderJob.kind == "render"]
    if state is not None:
        where.append(RenderJob.state == state)
    if project_id is not None:
        where.append(RenderJob.project_id == project_id)
    else:
        where.append(RenderJob.owner_id == owner_id)
    order = RenderJob.enqueued_at.desc() if sort.startswith("-") else RenderJob.enqueued_at.asc()
    items = session.scalars(
        select(RenderJob).where(*where).order_by(order, RenderJob.id).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(RenderJob).where(*where)) or 0
    return Page(list(items), total)


def cost_since(session: Session, owner_id: uuid.UUID, since: datetime) -> float:
    """What the owner's renders finished since `since` cost in remote provider calls (the
    worker records it in each result; only that column is read)."""
    results = session.scalars(
        select(RenderJob.result).where(
            RenderJob.owner_id == owner_id,
            RenderJob.kind == "render",
            RenderJob.state == JobState.SUCCEEDED,
            RenderJob.finished_at >= since,
        )
    )
    return sum(float((result or {}).get("cost_usd", 0.0)) for result in results)


def of_project(session: Session, project_id: uuid.UUID) -> list[RenderJob]:
    """Every render of the project, locked to the end of the transaction (a worker's claim
    skips locked rows on PostgreSQL; on SQLite the writer holds the database lock)."""
    return list(
        session.scalars(
            select(RenderJob).where(RenderJob.project_id == project_id).with_for_update()
        ).all()
    )
