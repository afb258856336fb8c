"""The event log read back for live updates and replay after a reconnect.

A user sees their own events and those of the renders of projects shared with them (while
they are a member: the membership is joined on every read, so a revoke ends it at once)."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Engine, func, or_, select
from sqlalchemy.orm import Session

from reelforge.db.models import Event, ProjectMember, RenderJob


def _shared_jobs(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Events of renders of projects the user is an accepted member of."""
    jobs = (
        select(RenderJob.id)
        .join(ProjectMember, ProjectMember.project_id == RenderJob.project_id)
        .where(ProjectMember.user_id == user_id, ProjectMember.accepted_at.is_not(None))
    )
    return Event.job_id.in_(jobs)


def _visible_to(user_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(Event.user_id == user_id, _shared_jobs(user_id))


def after(engine: Engine, user_id: uuid.UUID, after_id: int, limit: int) -> list[Event]:
    """The user's events with id > `after_id`, oldest first (a short read-only transaction)."""
    query = (
        select(Event)
        .where(_visible_to(user_id), Event.id > after_id)
        .order_by(Event.id)
        .limit(limit)
    )
    with Session(engine) as session:
        return list(session.scalars(query))


def latest_id_for(engine: Engine, user_id: uuid.UUID) -> int:
    """The user's newest event id (0 before their first)."""
    with engine.connect() as conn:
        found = conn.scalar(select(func.max(Event.id)).where(_visible_to(user_id)))
        return int(found or 0)


def latest_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.max(Event.id))) or 0)


def users_with_events_after(engine: Engine, after_id: int) -> tuple[set[uuid.UUID], int]:
    """Who got new events since `after_id` (members of a shared project included), and
    the newest id seen (for the next call)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Event.user_id, func.max(Event.id))
            .where(Event.id > after_id)
            .group_by(Event.user_id)
        ).all()
        if not rows:
            return set(), after_id
        members = conn.scalars(
            select(ProjectMember.user_id)
            .distinct()
            .join(RenderJob, RenderJob.project_id == ProjectMember.project_id)
            .join(Event, Event.job_id == RenderJob.id)
            .where(Event.id > after_id, ProjectMember.accepted_at.is_not(None))
        ).all()
    return {row[0] for row in rows} | set(members), max(int(row[1]) for row in rows)
