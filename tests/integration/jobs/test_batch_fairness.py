"""A batch must not make anyone else wait longer: a second user's render submitted while a
50-row batch is queued starts after the same wait as without the batch (simulated time:
every job takes one second, two workers; `bench/batch.py` measures it on real workers).

The users are on one plan: between plans, priority by plan applies to a batch's rows as to
single renders (a pro user's queue goes first, and ageing bounds a free user's wait)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from reelforge.db.models import RenderJob
from reelforge.jobs.manager import JobManager, NewJob
from reelforge.model.plans import Plan

from .test_manager import Clock, add_user, state

WORKERS = 2
JOB_S = 1.0
BATCH_ROWS = 50


def second_users_wait_s(engine: Engine, clock: Clock, plan: Plan, *, with_batch: bool) -> float:
    """Another user's steady jobs run throughout; with `with_batch` a third user has just
    queued a 50-row batch. The second user submits half a second in."""
    manager = JobManager(engine, clock=clock)
    steady, batcher, second = (add_user(engine, plan) for _ in range(3))
    with Session(engine) as session, session.begin():
        jobs = [NewJob(steady, kind="noop") for _ in range(5)]
        if with_batch:
            batch = {"batch_id": str(uuid4())}
            jobs += [NewJob(batcher, kind="noop", payload=batch) for _ in range(BATCH_ROWS)]
        manager.enqueue_many(session, jobs)
    running = manager.claim("w", limit=WORKERS)
    clock.advance(0.5)
    with Session(engine) as session, session.begin():
        [job_id] = manager.enqueue_many(session, [NewJob(second, kind="noop")])
    for _ in range(BATCH_ROWS + 10):
        clock.advance(JOB_S - 0.5)
        for job in running:
            assert manager.succeed(job.id, "w", {})
        running = manager.claim("w", limit=WORKERS)
        if any(job.id == job_id for job in running):
            break
        clock.advance(0.5)
    wait_s = _wait_s(engine, job_id)
    with engine.begin() as conn:  # the next scenario starts from an empty queue
        conn.execute(delete(RenderJob))
    return wait_s


def _wait_s(engine: Engine, job_id: UUID) -> float:
    job = state(engine, job_id)
    assert job.started_at is not None
    return (job.started_at - job.enqueued_at).total_seconds()


@pytest.mark.parametrize("plan", [Plan.FREE, Plan.PRO])
def test_a_batch_leaves_another_users_wait_unchanged(engine: Engine, plan: Plan) -> None:
    alone = second_users_wait_s(engine, Clock(), plan, with_batch=False)
    during_batch = second_users_wait_s(engine, Clock(), plan, with_batch=True)
    assert alone == 0.5  # the next free worker
    # The batch is one more user in the rotation: at most one more turn (one job's length),
    # not its 50 rows (first come, first served would be 25 s).
    assert alone <= during_batch <= alone + JOB_S
