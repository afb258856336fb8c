"""`batch_progress`: one event per finished row of a batch, with the batch's counts, on every
way a job finishes (a success recorded with the next claim included: PostgreSQL's path, and a
failure by the reaper when a worker died on the row's last attempt)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from reelforge.db.models import Batch, BatchRow, Event
from reelforge.jobs.manager import JobManager, NewJob
from reelforge.jobs.retry import ErrorClass
from reelforge.model.plans import Plan

from .test_manager import Clock, add_user


def progress_events(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        query = select(Event.data).where(Event.type == "batch_progress").order_by(Event.id)
        return list(session.scalars(query))


def test_each_finished_row_reports_the_batch(engine: Engine) -> None:
    manager = JobManager(engine)
    owner = add_user(engine, Plan.PRO)
    with Session(engine) as session, session.begin():
        batch = Batch(owner_id=owner.id, name="b")
        session.add(batch)
        session.flush()
        batch_id = str(batch.id)
        jobs = [NewJob(owner, kind="noop", payload={"batch_id": batch_id}) for _ in range(3)]
        ids = manager.enqueue_many(session, jobs)
        session.add_all(BatchRow(batch_id=batch.id, line=n, render_id=i) for n, i in enumerate(ids))
        manager.enqueue(session, owner, kind="noop")  # a single render: no batch event

    first, second = manager.claim("w", limit=2)
    recorded, _ = manager.succeed_and_claim(first.id, "w", {}, limit=0, batch_id=batch_id)
    assert recorded
    manager.fail(second.id, "w", ErrorClass.VALIDATION, "bad", "input", 1, 3)
    assert manager.cancel(ids[2], owner.id) is not None

    events = progress_events(engine)
    assert [(e["status"], e["done"], e["total"]) for e in events] == [
        ("succeeded", 1, 3), ("failed", 2, 3), ("canceled", 3, 3),
    ]  # fmt: skip
    assert events[-1]["counts"] == {
        "queued": 0, "running": 0, "succeeded": 1, "failed": 1, "canceled": 1,
    }  # fmt: skip


def test_a_row_the_reaper_fails_reports_the_batch(engine: Engine) -> None:
    """A worker died on the row's last attempt: the batch page must hear of it like any other
    failure (it waited for a `batch_progress` event that never came)."""
    clock = Clock()
    manager = JobManager(engine, clock=clock)
    owner = add_user(engine, Plan.PRO)
    with Session(engine) as session, session.begin():
        batch = Batch(owner_id=owner.id, name="b")
        session.add(batch)
        session.flush()
        batch_id = str(batch.id)
        jobs = [
            NewJob(owner, kind="noop", payload={"batch_id": batch_id}, max_attempts=1)
            for _ in range(2)
        ]
        ids = manager.enqueue_many(session, jobs)
        session.add_all(BatchRow(batch_id=batch.id, line=n, render_id=i) for n, i in enumerate(ids))

    [doomed] = manager.claim("dies")
    clock.advance(30)
    [reaped] = manager.reap(stale_after_s=10)
    assert (reaped.id, reaped.failed) == (doomed.id, True)

    [event] = progress_events(engine)
    assert (event["batch_id"], event["status"], event["done"], event["total"]) == (
        batch_id, "failed", 1, 2,
    )  # fmt: skip
    assert event["counts"] == {
        "queued": 1, "running": 0, "succeeded": 0, "failed": 1, "canceled": 0,
    }  # fmt: skip
