"""Tombstones: blob-store folders whose render or project was deleted, waiting for the
prune to remove their files (`platform/retention.py` writes and reads them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reelforge.db.models import BlobTombstone


def bury(
    session: Session,
    prefixes: Iterable[str],
    *,
    owner_id: uuid.UUID | None,
    reason: str,
    at: datetime,
    keep_s: float,
) -> list[uuid.UUID]:
    """Mark each folder for removal once `keep_s` has passed, in the caller's transaction.

    Returns:
        The tombstones' ids (to purge them at once when `keep_s` is 0).
    """
    rows = [
        BlobTombstone(
            prefix=prefix,
            owner_id=owner_id,
            reason=reason,
            deleted_at=at,
            purge_after=at + timedelta(seconds=keep_s),
        )
        for prefix in prefixes
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def due(
    session: Session, now: datetime, *, limit: int, ids: Sequence[uuid.UUID] | None = None
) -> list[BlobTombstone]:
    """Tombstones whose grace has passed, oldest first (only those in `ids` if given)."""
    where = [BlobTombstone.purge_after <= now]
    if ids is not None:
        where.append(BlobTombstone.id.in_(ids))
    return list(
        session.scalars(
            select(BlobTombstone).where(*where).order_by(BlobTombstone.purge_after).limit(limit)
        ).all()
    )


def forget(session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Drop tombstones whose files are gone."""
    if ids:
        session.execute(delete(BlobTombstone).where(BlobTombstone.id.in_(ids)))
