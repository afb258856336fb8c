"""The queue position shown to users comes from the scheduler's own ordering (issue #22: it
counted FIFO while the scheduler is not FIFO): position 1 is the job the next claim starts."""

from __future__ import annotations

import random
from uuid import UUID

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from reelforge.jobs.manager import JobManager
from reelforge.model.plans import Plan

from .test_manager import Clock, add_user, submit


def positions(manager: JobManager, ids: list[UUID]) -> dict[UUID, int | None]:
    with Session(manager.engine) as session:
        return {job_id: manager.queue_position(session, job_id) for job_id in ids}


def test_a_pro_job_submitted_later_is_first_in_line(engine: Engine) -> None:
    clock = Clock()
    manager = JobManager(engine, clock=clock)
    [free_job] = submit(manager, add_user(engine, Plan.FREE))
    clock.advance(1)
    [pro_job] = submit(manager, add_user(engine, Plan.PRO))
    assert positions(manager, [free_job, pro_job]) == {pro_job: 1, free_job: 2}  # FIFO: 2, 1
    [started] = manager.claim("w")
    assert started.id == pro_job
    assert positions(manager, [free_job, pro_job]) == {free_job: 1, pro_job: None}


def test_position_one_is_always_the_job_the_scheduler_starts_next(engine: Engine) -> None:
    """Users of every plan with backlogs, ageing and round-robin at play: before every claim,
    the job shown at position 1 is the one started, and a user's own jobs keep their order."""
    rng = random.Random(7)
    clock = Clock()
    manager = JobManager(engine, clock=clock)
    queued: list[UUID] = []
    for plan in (Plan.FREE, Plan.BASIC, Plan.PRO, Plan.FREE, Plan.ENTERPRISE):
        user = add_user(engine, plan)
        for _ in range(rng.randint(1, 4)):
            queued += submit(manager, user)
            clock.advance(rng.uniform(0, 40))
    while queued:
        shown = positions(manager, queued)
        [started] = manager.claim("w")
        assert shown[started.id] == 1
        assert list(shown.values()).count(1) == 1
        queued.remove(started.id)
        assert manager.succeed(started.id, "w", {})
        clock.advance(rng.uniform(0, 30))
