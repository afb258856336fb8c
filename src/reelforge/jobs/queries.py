"""Every queue statement, as SQLAlchemy Core (one dialect-neutral text; `manager.py` runs them)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Integer, Select, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert, Update

from reelforge.db.crud.product_events import Fact
from reelforge.db.models import BatchRow, Event, JobState, ProductEvent, RenderJob, User

jobs = cast(Table, RenderJob.__table__)
users = cast(Table, User.__table__)
events = cast(Table, Event.__table__)
product_events = cast(Table, ProductEvent.__table__)
batch_rows = cast(Table, BatchRow.__table__)


@cache
def candidate_heads() -> Select[Any]:
    """Each waiting user's oldest claimable job, with their plan, running count and last service.

    Only a user's head job competes: inside one user's queue jobs run in order. The owners
    with queued jobs are found by a "loose index scan" (a recursive CTE hopping from one
    owner to the next along the claim index), and everything else is an index probe per
    owner, so the cost grows with the number of users waiting, not with the jobs queued
    (10 000 queued jobs of 50 users: 6.7 ms with a window function over every row, under
    1 ms this way). Scheduling uses the owner's current plan: an upgrade applies at once.
    Built once (it is the hot path): bind `now` and `limit` when executing it.
    """
    now = bindparam("now", type_=jobs.c.run_after.type)
    # ORDER BY ... LIMIT 1, not min(): PostgreSQL has no min() for uuid.
    hop = jobs.alias("hop")
    lowest = (
        select(hop.c.owner_id)
        .where(hop.c.state == JobState.QUEUED)
        .order_by(hop.c.owner_id)
        .limit(1)
        .scalar_subquery()
    )
    owners = select(lowest.label("owner_id")).cte("owners", recursive=True)
    step = jobs.alias("step")
    following = (
        select(step.c.owner_id)
        .where(step.c.state == JobState.QUEUED, step.c.owner_id > owners.c.owner_id)
        .order_by(step.c.owner_id)
        .limit(1)
        .scalar_subquery()
    )
    owners = owners.union_all(select(following).where(owners.c.owner_id.is_not(None)))

    def head(column: str) -> Any:
        job = jobs.alias(f"head_{column}")
        return (
            select(job.c[column])
            .where(
                job.c.owner_id == owners.c.owner_id,
                job.c.state == JobState.QUEUED,
                job.c.run_after <= now,
            )
            .order_by(job.c.enqueued_at)  # the claim index's own order: stops at the first
            .limit(1)
            .scalar_subquery()
        )

    busy = jobs.alias("busy")
    running = (
        select(func.count())
        .where(busy.c.owner_id == owners.c.owner_id, busy.c.state == JobState.RUNNING)
        .scalar_subquery()
    )
    heads = (
        select(
            head("id").label("id"),
            owners.c.owner_id,
            users.c.plan,
            head("enqueued_at").label("enqueued_at"),
            running.label("running"),
            users.c.last_claimed_at,
        )
        .select_from(owners)
        .join(users, users.c.id == owners.c.owner_id)
        .subquery()
    )
    return (
        select(heads)
        .where(heads.c.id.is_not(None))  # all of this user's jobs are in backoff
        .order_by(heads.c.enqueued_at)
        .limit(bindparam("limit", type_=Integer))
    )


def lock_user(owner_id: UUID) -> Select[Any]:
    """Serialises claims for one user across workers (PostgreSQL; SQLite is serial anyway)."""
    return select(users.c.id).where(users.c.id == owner_id).with_for_update(skip_locked=True)


def running_count(owner_id: UUID) -> Select[Any]:
    return select(func.count()).where(jobs.c.owner_id == owner_id, jobs.c.state == JobState.RUNNING)


_CLAIMED_COLUMNS = (
    jobs.c.id, jobs.c.owner_id, jobs.c.kind, jobs.c.payload, jobs.c.attempts,
    jobs.c.max_attempts, jobs.c.checkpoints, jobs.c.enqueued_at,
)  # fmt: skip


def start_job(job_id: UUID, worker_id: str, now: datetime) -> Update:
    return (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == JobState.QUEUED)
        .values(
            state=JobState.RUNNING,
            attempts=jobs.c.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            worker_id=worker_id,
        )
        .returning(*_CLAIMED_COLUMNS)
    )


def mark_served(owner_id: UUID, now: datetime) -> Update:
    return update(users).where(users.c.id == owner_id).values(last_claimed_at=now)


def _owned_running(job_id: UUID, worker_id: str) -> Any:
    return and_(
        jobs.c.id == job_id, jobs.c.state == JobState.RUNNING, jobs.c.worker_id == worker_id
    )


def heartbeat(job_id: UUID, worker_id: str, now: datetime, **progress: Any) -> Update:
    return (
        update(jobs)
        .where(_owned_running(job_id, worker_id))
        .values(heartbeat_at=now, **progress)
        .returning(jobs.c.cancel_requested, jobs.c.owner_id)
    )


def finish(job_id: UUID, worker_id: str, values: dict[str, Any]) -> Update:
    """Any transition out of `running`; matches nothing if this worker lost the job."""
    return (
        update(jobs)
        .where(_owned_running(job_id, worker_id))
        .values(values)
        .returning(
            jobs.c.owner_id,
            jobs.c.attempts,
            jobs.c.max_attempts,
            jobs.c.kind,
            jobs.c.plan,
            jobs.c.payload["batch_id"].as_string().label("batch_id"),
        )
    )


def batch_counts(batch_id: UUID) -> Select[Any]:
    """A batch's rows by their renders' state: (state, count) rows."""
    return (
        select(jobs.c.state, func.count().label("rows"))
        .select_from(batch_rows.join(jobs, jobs.c.id == batch_rows.c.render_id))
        .where(batch_rows.c.batch_id == batch_id)
        .group_by(jobs.c.state)
    )


def owner_of(job_id: UUID) -> Select[Any]:
    return select(jobs.c.owner_id).where(jobs.c.id == job_id)


def batch_of(job_id: UUID) -> Select[Any]:
    """The batch a job belongs to (None for a single render)."""
    return select(jobs.c.payload["batch_id"].as_string()).where(jobs.c.id == job_id)


def request_cancel(job_id: UUID, owner_id: UUID) -> Update:
    """Queued jobs are canceled at once; running ones are flagged for their worker."""
    return (
        update(jobs)
        .where(
            jobs.c.id == job_id,
            jobs.c.owner_id == owner_id,
            jobs.c.state.in_((JobState.QUEUED, JobState.RUNNING)),
        )
        .values(cancel_requested=True)
        .returning(jobs.c.state)
    )


def cancel_queued(job_id: UUID, now: datetime) -> Update:
    return (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == JobState.QUEUED)
        .values(state=JobState.CANCELED, finished_at=now)
    )


_STALE_COLUMNS = (
    jobs.c.id, jobs.c.owner_id, jobs.c.worker_id, jobs.c.stage, jobs.c.attempts,
    jobs.c.max_attempts, jobs.c.kind, jobs.c.plan,
    jobs.c.payload["batch_id"].as_string().label("batch_id"),
)  # fmt: skip


def stale_running(before: datetime) -> Select[Any]:
    return (
        select(*_STALE_COLUMNS)
        .where(jobs.c.state == JobState.RUNNING, jobs.c.heartbeat_at < before)
        .with_for_update(skip_locked=True)
    )


def requeue(job_id: UUID, now: datetime) -> Update:
    return (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING)
        .values(state=JobState.QUEUED, worker_id=None, run_after=now, heartbeat_at=None)
    )


def fail_stale(job_id: UUID, now: datetime, error: dict[str, Any]) -> Update:
    """A stale job whose attempts are used up: failed, with the error columns in `error`."""
    return (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING)
        .values(state=JobState.FAILED, worker_id=None, finished_at=now, **error)
    )


def insert_jobs() -> Insert:
    """Many jobs at once (a list of column dicts); columns left out take their defaults."""
    return insert(jobs)


def job_row(**given: Any) -> dict[str, Any]:
    """A whole `render_jobs` row: `given` columns, the others at their column defaults.
    `enqueue` inserts it and hands back a `RenderJob` made of the same values, so the object
    needs no reload and matches the row exactly."""
    row: dict[str, Any] = {}
    for column in jobs.columns:
        if column.key in given:
            row[column.key] = given[column.key]
        elif column.default is None:
            row[column.key] = None
        else:
            default: Any = column.default
            row[column.key] = default.arg(None) if default.is_callable else default.arg
    return row


def insert_job_once(row: dict[str, Any]) -> Insert:
    """One job (a `job_row`), unless its owner already used its idempotency key: then no row
    is inserted (rowcount 0). SQLite's form; PostgreSQL's is `queries_pg.ENQUEUE`."""
    return (
        sqlite_insert(jobs)
        .values(row)
        .on_conflict_do_nothing(index_elements=[jobs.c.owner_id, jobs.c.idempotency_key])
    )


def append_event(
    user_id: UUID, job_id: UUID | None, kind: str, data: dict[str, Any], now: datetime
) -> Insert:
    return insert(events).values(
        user_id=user_id, job_id=job_id, type=kind, data=data, created_at=now
    )


def append_fact(
    fact: Fact, user_id: UUID, job_id: UUID, plan: str, now: datetime, cost_usd: float | None
) -> Insert:
    """A render's outcome in the product event log (admin analytics), beside its event."""
    return insert(product_events).values(
        kind=fact, user_id=user_id, subject_id=job_id, label=plan, value=cost_usd, at=now
    )


def log_queued(event: dict[str, Any], channel: str | None) -> Insert | Select[Any]:
    """Append one event (an `event_row`); with a `channel`, also `pg_notify` it in the same
    statement (PostgreSQL: delivered when the transaction commits)."""
    logged = insert(events).values(event)
    if channel is None:
        return logged
    return select(func.pg_notify(channel, "")).add_cte(logged.cte("logged"))


def insert_events() -> Insert:
    """Many events at once (a list of `event_row`s)."""
    return insert(events)


def notify(channel: str) -> Select[Any]:
    return select(func.pg_notify(channel, ""))


def event_row(
    user_id: UUID, job_id: UUID | None, kind: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {"user_id": user_id, "job_id": job_id, "type": kind, "data": data, "created_at": now}


def queued_by_plan() -> Select[Any]:
    return (
        select(jobs.c.plan, func.count(), func.min(jobs.c.enqueued_at))
        .where(jobs.c.state == JobState.QUEUED)
        .group_by(jobs.c.plan)
    )


def running_total() -> Select[Any]:
    return select(func.count()).where(jobs.c.state == JobState.RUNNING)


def running_by_worker() -> Select[Any]:
    return (
        select(jobs.c.worker_id, func.count())
        .where(jobs.c.state == JobState.RUNNING)
        .group_by(jobs.c.worker_id)
    )


def recent_finished(since: datetime, limit: int) -> Select[Any]:
    return (
        select(jobs.c.state, jobs.c.enqueued_at, jobs.c.started_at, jobs.c.finished_at)
        .where(jobs.c.state.in_((JobState.SUCCEEDED, JobState.FAILED)), jobs.c.finished_at >= since)
        .order_by(jobs.c.finished_at.desc())
        .limit(limit)
    )
