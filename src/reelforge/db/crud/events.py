"""The per-user event log read back for live updates and replay after a reconnect."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from reelforge.db.models import Event


def after(engine: Engine, user_id: uuid.UUID, after_id: int, limit: int) -> list[Event]:
    """The user's events with id > `after_id`, oldest first (a short read-only transaction)."""
    query = (
        select(Event)
        .where(Event.user_id == user_id, Event.id > after_id)
        .order_by(Event.id)
        .limit(limit)
    )
    with Session(engine) as session:
        return list(session.scalars(query))


def latest_id_for(engine: Engine, user_id: uuid.UUID) -> int:
    """The user's newest event id (0 before their first)."""
    with engine.connect() as conn:
        found = conn.scalar(select(func.max(Event.id)).where(Event.user_id == user_id))
        return int(found or 0)


def latest_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.max(Event.id))) or 0)


def users_with_events_after(engine: Engine, after_id: int) -> tuple[set[uuid.UUID], int]:
    """Who got new events since `after_id`, and the newest id seen (for the next call)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Event.user_id, func.max(Event.id))
            .where(Event.id > after_id)
            .group_by(Event.user_id)
        ).all()
    if not rows:
        return set(), after_id
    return {row[0] for row in rows}, max(int(row[1]) for row in rows)
