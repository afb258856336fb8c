"""The files of deleted renders and projects.

A deletion removes the rows at once, so the render is gone for every user who could see it
(its links stop working) and from its owner's storage quota, and leaves a tombstone for
each render's blob-store folder in the same transaction. `purge` removes the folders whose
grace (`REELFORGE_RETENTION__DELETED_FILES_HOURS`) has passed: right after the deletion
commits when it is 0, else in the prune (`Platform.prune`: at start-up, periodically where
renders run, and `reelforge cache prune`). A store that fails keeps the tombstone for the
next prune. Only the deleted renders' own folders are named: uploaded assets (a library
other projects may use) and other users' files are never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from reelforge.db.crud import renders, tombstones
from reelforge.db.models import FINAL_STATES, JobState, Project, RenderJob
from reelforge.engine.cache import Pruned as CachePruned
from reelforge.errors import Conflict, StorageError
from reelforge.jobs.kinds import render_blob_folder
from reelforge.jobs.loops import BackgroundLoop
from reelforge.jobs.manager import JobManager
from reelforge.logs import get_logger
from reelforge.storage import BlobStore

log = get_logger("reelforge.retention")

RENDER_DELETED = "render_deleted"
PROJECT_DELETED = "project_deleted"
PURGE_BATCH = 200
"""Tombstones read per round trip: a prune of many deletions goes in batches."""


@dataclass(frozen=True, slots=True)
class Purged:
    folders: int
    """Tombstones whose folder was removed (or found already gone)."""
    files: int
    """Blobs removed."""
    failed: int = 0
    """Folders the store failed to remove: tried again by the next prune."""


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one prune (`Platform.prune`) removed."""

    cache: CachePruned
    work_folders: int
    """Render work folders a killed worker left."""
    webhook_deliveries: int
    """Finished webhook deliveries past the delivery log's retention."""
    deleted: Purged
    """Files of deleted renders and projects."""


def delete_render(
    session: Session, job: RenderJob, *, at: datetime, keep_s: float
) -> list[uuid.UUID]:
    """Delete a finished render; its files follow after `keep_s` (see `purge`).

    Returns:
        The tombstones written.

    Raises:
        Conflict: the render is still queued or running.
    """
    if job.state not in FINAL_STATES:
        raise Conflict(f"cancel this render before deleting it (it is {job.state})")
    return _bury(session, [job], RENDER_DELETED, at, keep_s)


def delete_project(
    session: Session, queue: JobManager, project: Project, *, at: datetime, keep_s: float
) -> list[uuid.UUID]:
    """Delete a project and every render of it (whoever submitted it: they are all the
    owner's); queued renders are canceled first, their files follow after `keep_s`.

    Returns:
        The tombstones written.

    Raises:
        Conflict: a render of the project is running (its files could be published after
        the deletion); cancel it first.
    """
    jobs = renders.of_project(session, project.id)
    running = [job for job in jobs if job.state == JobState.RUNNING]
    if running:
        raise Conflict(
            f"render {running[0].id} of this project is running: cancel it, then delete the "
            "project once it has stopped"
        )
    for job in jobs:
        if job.state == JobState.QUEUED:
            queue.cancel(job.id, job.owner_id, session)
    buried = _bury(session, jobs, PROJECT_DELETED, at, keep_s)
    session.delete(project)
    session.flush()
    return buried


def _bury(
    session: Session, jobs: Sequence[RenderJob], reason: str, at: datetime, keep_s: float
) -> list[uuid.UUID]:
    buried: list[uuid.UUID] = []
    for job in jobs:
        buried += tombstones.bury(
            session, [render_blob_folder(job.id)], owner_id=job.owner_id, reason=reason, at=at,
            keep_s=keep_s,
        )  # fmt: skip
        session.delete(job)
    session.flush()
    return buried


def purge(
    sessions: sessionmaker[Session],
    blobs: BlobStore,
    now: datetime,
    *,
    ids: Sequence[uuid.UUID] | None = None,
) -> Purged:
    """Remove the files of every tombstone due at `now` (only those in `ids` if given),
    then the tombstones. Safe to run in several processes at once: removing a folder that
    is already gone is not an error."""
    folders = files = failed = 0
    while True:
        with sessions() as session:
            due = [
                (row.id, row.prefix)
                for row in tombstones.due(session, now, limit=PURGE_BATCH, ids=ids)
            ]
        done: list[uuid.UUID] = []
        for tombstone_id, prefix in due:
            try:
                files += blobs.delete_prefix(prefix)
            except StorageError as exc:  # kept for the next prune
                failed += 1
                log.warning("deleted files not removed yet", prefix=prefix, error=str(exc))
                continue
            done.append(tombstone_id)
        with sessions() as session:
            tombstones.forget(session, done)
            session.commit()
        folders += len(done)
        if len(due) < PURGE_BATCH or failed:
            return Purged(folders, files, failed)


class PruneLoop(BackgroundLoop):
    """Prunes at once, then every `interval_s`, on a thread of a process that runs renders
    (so a grace period ends without a cron job); stops with the workers."""

    def __init__(self, prune: Callable[[], object], interval_s: float) -> None:
        def step() -> bool:
            prune()
            return False  # never at once again: the next prune is due after the interval

        super().__init__("prune", step, interval_s)
