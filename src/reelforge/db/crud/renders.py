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
from reelforge.db.models import JobState, Project, RenderJob
from reelforge.errors import NotFound

RenderSort = Literal["created_at", "-created_at"]


def owned(session: Session, owner_id: uuid.UUID, render_id: uuid.UUID) -> RenderJob:
    job = session.get(RenderJob, render_id)
    if job is None or job.owner_id != owner_id or job.kind != "render":
        raise NotFound("render not found", stage="input")
    return job


def readable(session: Session, user_id: uuid.UUID, render_id: uuid.UUID) -> RenderJob:
    """The render, for its owner or a member of its project (a stranger gets NotFound)."""
    job = session.get(RenderJob, render_id)
    if job is None or job.kind != "render":
        raise NotFound("render not found", stage="input")
    if job.owner_id == user_id:
        return job
    project = session.get(Project, job.project_id) if job.project_id is not None else None
    if project is None or role_of(session, user_id, project) is None:
        raise NotFound("render not found", stage="input")
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
