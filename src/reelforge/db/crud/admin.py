"""Reads for administrators: across all users by design (routes check the admin role)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import Event, JobState, RenderJob, User

SYSTEM_ERROR_EVENT = "system_error"


def failed_renders(
    session: Session, *, limit: int, offset: int, error_class: str | None
) -> list[RenderJob]:
    query = select(RenderJob).where(RenderJob.state == JobState.FAILED)
    if error_class:
        query = query.where(RenderJob.error_class == error_class)
    query = query.order_by(RenderJob.finished_at.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def system_alerts(session: Session, *, limit: int, offset: int) -> list[Event]:
    query = (
        select(Event)
        .where(Event.type == SYSTEM_ERROR_EVENT)
        .order_by(Event.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def all_users(session: Session, *, limit: int, offset: int) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at).limit(limit).offset(offset)))
