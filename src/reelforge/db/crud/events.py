"""The event log read back for live updates and replay after a reconnect.

A user sees their own events and those of the renders of projects shared with them (while
they are a member: the membership is joined on every read, so a revoke ends it at once)."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session

from reelforge.db.models import Event, ProjectMember, RenderJob

NOTIFY_CHANNEL = "reelforge_events"
"""On PostgreSQL, every transaction that appends events NOTIFYs this channel when it commits
(a trigger on `events`, migration 0011: whoever writes them); the payload is empty."""


def _shared_jobs(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Events of renders of projects the user is an accepted member of."""
    jobs = (
        select(RenderJob.id)
        .join(ProjectMember, ProjectMember.project_id == RenderJob.project_id)
        .where(ProjectMember.user_id == user_id, ProjectMember.accepted_at.is_not(None))
    )
    return Event.job_id.in_(jobs)


def after(engine: Engine, user_id: uuid.UUID, after_id: int, limit: int) -> list[Event]:
    """The user's events with id > `after_id`, oldest first (a short read-only transaction).

    Their own and their shared projects' are two queries, each on its own index
    (`ix_events_user`, `ix_events_job`). As one `OR`, PostgreSQL scanned every event after
    `after_id`: a replay from 0 among 300 000 events took 35 ms, now under 1 ms of query."""
    own = select(Event).where(Event.user_id == user_id, Event.id > after_id)
    shared = select(Event).where(_shared_jobs(user_id), Event.id > after_id)
    with Session(engine) as session:
        found = {
            event.id: event
            for query in (own, shared)
            for event in session.scalars(query.order_by(Event.id).limit(limit))
        }
    return [found[event_id] for event_id in sorted(found)[:limit]]


def latest_id_for(engine: Engine, user_id: uuid.UUID) -> int:
    """The user's newest event id, their shared projects' included (0 before their first)."""
    with engine.connect() as conn:
        own = conn.scalar(select(func.max(Event.id)).where(Event.user_id == user_id))
        shared = conn.scalar(select(func.max(Event.id)).where(_shared_jobs(user_id)))
    return max(int(own or 0), int(shared or 0))


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
