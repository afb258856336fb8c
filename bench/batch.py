"""Batch fairness benchmark (`make bench`): how long a second user's single render waits to
start, alone and while another user's 50-row batch is queued, on real worker threads.

Three free users share two workers on SQLite: one keeps a few jobs queued throughout, one
submits a 50-row batch (or not), and the second user submits one render half a second in.
Every job is the `sleep` test kind (0.2 s). The wait is the job's `started_at - enqueued_at`
from the database; the median of 5 runs of each is reported. The target: the wait during
the batch stays within one job's length of the wait without it (the batch is one more user
in the round-robin, not 50 jobs ahead); first come, first served would add about
50 × 0.2 s / 2 workers = 5 s.

Run: `python -m bench.batch`; writes bench/results/batch.json and the `## Batches` section
of bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bench.report import cpu_model, mark, markdown_table, run
from reelforge.db.migrate import upgrade
from reelforge.db.models import RenderJob, User
from reelforge.db.session import make_engine
from reelforge.jobs.manager import JobManager, NewJob
from reelforge.jobs.testing import TEST_KINDS
from reelforge.jobs.worker import Worker, WorkerTimings
from reelforge.model.plans import Plan

RESULTS_JSON = Path(__file__).parent / "results" / "batch.json"
SECTION = "## Batches"
WORKERS = 2
JOB_S = 0.2
BATCH_ROWS = 50
STEADY_JOBS = 5
SUBMIT_AFTER_S = 0.5
RUNS = 5
TIMINGS = WorkerTimings(heartbeat_s=0.5, poll_s=0.05)


def _user(engine: Engine) -> User:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        user = User(email=f"{uuid4().hex}@bench.test", plan=Plan.FREE)
        session.add(user)
    return user


def _enqueue(manager: JobManager, jobs: list[NewJob]) -> list[UUID]:
    with Session(manager.engine) as session, session.begin():
        return manager.enqueue_many(session, jobs)


def second_users_wait_s(engine: Engine, *, with_batch: bool) -> float:
    manager = JobManager(engine)
    steady, batcher, second = _user(engine), _user(engine), _user(engine)
    sleep = {"seconds": JOB_S}
    jobs = [NewJob(steady, kind="sleep", payload=sleep) for _ in range(STEADY_JOBS)]
    if with_batch:
        batch = sleep | {"batch_id": str(uuid4())}
        jobs += [NewJob(batcher, kind="sleep", payload=batch) for _ in range(BATCH_ROWS)]
    _enqueue(manager, jobs)
    workers = [Worker(manager, TEST_KINDS, timings=TIMINGS) for _ in range(WORKERS)]
    threads = [threading.Thread(target=worker.run, daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    time.sleep(SUBMIT_AFTER_S)
    [job_id] = _enqueue(manager, [NewJob(second, kind="sleep", payload=sleep)])
    while True:
        with Session(engine) as session:
            job = session.get(RenderJob, job_id)
            assert job is not None
            if job.started_at is not None:
                wait_s = (job.started_at - job.enqueued_at).total_seconds()
                break
        time.sleep(0.02)
    for worker in workers:
        worker.stop()
    for thread in threads:
        thread.join()
    return wait_s


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        waits: dict[str, list[float]] = {"alone": [], "during a 50-row batch": []}
        for _ in range(RUNS):
            waits["alone"].append(second_users_wait_s(engine, with_batch=False))
            waits["during a 50-row batch"].append(second_users_wait_s(engine, with_batch=True))
        engine.dispose()
    medians = {name: statistics.median(values) for name, values in waits.items()}
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "load": round(os.getloadavg()[0], 2),
        "workers": WORKERS, "job_s": JOB_S, "runs": RUNS, "waits_s": waits,
        "median_s": medians,
        "met": medians["during a 50-row batch"] <= medians["alone"] + JOB_S,
    }  # fmt: skip


def section(data: dict[str, Any]) -> str:
    rows = [
        [name, f"{data['median_s'][name]:.2f}", " ".join(f"{v:.2f}" for v in values)]
        for name, values in data["waits_s"].items()
    ]
    lines = [
        SECTION, "",
        f"{data['at']} on {data['cpu']} ({data['cores']} cores, load {data['load']}); SQLite, "
        f"{data['workers']} worker threads, every job the `sleep` kind ({data['job_s']} s). "
        "Three free users: one keeps jobs queued, one submits a 50-row batch (or not), the "
        "second submits one render half a second in; its wait is `started_at - enqueued_at`.",
        "",
        *markdown_table(["second user's render", "median wait (s)", "each run (s)"], rows),
        "",
        f"The wait during the batch stays within one job's length ({data['job_s']} s) of the "
        f"wait without it: **{mark(data['met'])}**. First come, first served would add about "
        f"{BATCH_ROWS * data['job_s'] / data['workers']:.0f} s.",
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    run(RESULTS_JSON, SECTION, measure, section)


if __name__ == "__main__":
    main()
