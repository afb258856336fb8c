"""Batches and their rows, always read through their owner; a row's status is its render's."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from reelforge.db.crud.projects import Page
from reelforge.db.models import Batch, BatchRow, JobState, RenderJob
from reelforge.errors import NotFound


def owned(session: Session, owner_id: uuid.UUID, batch_id: uuid.UUID) -> Batch:
    """Raises NotFound for someone else's batch too (no hint that it exists)."""
    batch = session.get(
        Batch, batch_id, options=[selectinload(Batch.rows).selectinload(BatchRow.render)]
    )
    if batch is None or batch.owner_id != owner_id:
        raise NotFound("batch not found", stage="input")
    return batch


def listing(session: Session, owner_id: uuid.UUID, *, limit: int, offset: int) -> Page:
    """Newest first."""
    where = Batch.owner_id == owner_id
    items = session.scalars(
        select(Batch).where(where).order_by(Batch.created_at.desc(), Batch.id)
        .limit(limit).offset(offset)
        .options(selectinload(Batch.rows).selectinload(BatchRow.render))
    ).all()  # fmt: skip
    total = session.scalar(select(func.count()).select_from(Batch).where(where)) or 0
    return Page(list(items), total)


def row_state(row: BatchRow) -> JobState:
    """A row whose render was deleted counts as canceled."""
    return JobState(row.render.state) if row.render is not None else JobState.CANCELED


def counts(batch: Batch) -> dict[str, int]:
    """Rows by status, every status present (zeros included)."""
    found = Counter(row_state(row) for row in batch.rows)
    return {state.value: found.get(state, 0) for state in JobState}


def renders(batch: Batch, states: tuple[JobState, ...]) -> list[RenderJob]:
    return [row.render for row in batch.rows if row.render is not None and row_state(row) in states]


def relink(session: Session, old_render_id: uuid.UUID, new_render_id: uuid.UUID) -> None:
    """A retried render's row (if it is a batch's) now follows the new render."""
    session.execute(
        update(BatchRow).where(BatchRow.render_id == old_render_id).values(render_id=new_render_id)
    )
