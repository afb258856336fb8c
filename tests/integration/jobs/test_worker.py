"""Workers against SQLite and the real PostgreSQL: races, cancel, shutdown, crashes, retries."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from reelforge.db.models import Base, Event, JobState, RenderJob, User
from reelforge.jobs import manager_pg
from reelforge.jobs.manager import ClaimedJob, JobManager
from reelforge.jobs.policy import DEFAULT_CONCURRENCY
from reelforge.jobs.testing import noop, sleep
from reelforge.jobs.worker import Worker, WorkerPool, WorkerTimings
from reelforge.model.plans import Plan

FAST = WorkerTimings(heartbeat_s=0.2, poll_s=0.2, stale_after_s=2.0, reap_every_s=0.5, grace_s=30)
KINDS = {"noop": noop, "sleep": sleep}


def add_user(engine: Engine, plan: Plan) -> User:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        user = User(email=f"{uuid4().hex}@x.test", plan=plan)
        session.add(user)
    return user


def submit(manager: JobManager, user: User, kind: str = "noop", **payload: object) -> UUID:
    with Session(manager.engine) as session, session.begin():
        return manager.enqueue(session, user, kind=kind, payload=dict(payload)).id


def job(engine: Engine, job_id: UUID) -> RenderJob:
    with Session(engine) as session:
        found = session.get(RenderJob, job_id)
        assert found is not None
        return found


def wait_for(predicate: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plans=st.lists(st.sampled_from([Plan.FREE, Plan.BASIC, Plan.PRO]), min_size=1, max_size=5),
    jobs_per_user=st.integers(1, 6),
    seed=st.integers(0, 1000),
    ranking_age_s=st.sampled_from([0.0, 0.05, 60.0]),
)
def test_four_racing_workers_never_exceed_a_users_limit_nor_claim_twice(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    plans: list[Plan],
    jobs_per_user: int,
    seed: int,
    ranking_age_s: float,
) -> None:
    """Batches of claims, and successes that claim the next batch in the same exchange, with
    PostgreSQL's rankings re-read every time, at the default age, or kept for a minute."""
    clear(engine)
    monkeypatch.setattr(manager_pg, "RANKING_MAX_AGE_S", ranking_age_s)
    manager = JobManager(engine)
    users = [add_user(engine, plan) for plan in plans]
    limit = {u.id: DEFAULT_CONCURRENCY[u.plan] for u in users}
    for user in users:
        for _ in range(jobs_per_user):
            submit(manager, user)
    total = len(users) * jobs_per_user
    running: Counter[UUID] = Counter()
    lock = threading.Lock()
    violations: list[str] = []
    finished: list[UUID] = []

    def race(name: str, rng: random.Random) -> None:
        idle_rounds = 0
        claimed: list[ClaimedJob] = []
        while idle_rounds < 20:
            if not claimed:
                claimed = manager.claim(name, limit=rng.randint(1, 3))
            if not claimed:
                idle_rounds += 1
                time.sleep(0.005)
                continue
            idle_rounds = 0
            with lock:
                for j in claimed:
                    running[j.owner_id] += 1
                    if running[j.owner_id] > limit[j.owner_id]:
                        violations.append(f"{j.owner_id} ran {running[j.owner_id]}")
            time.sleep(rng.random() * 0.01)
            for j in claimed:
                with lock:
                    running[j.owner_id] -= 1  # before the DB sees it finish: conservative
                    finished.append(j.id)
            *done, last = claimed
            for j in done:
                manager.succeed(j.id, name, {})
            if rng.random() < 0.5:
                recorded, claimed = manager.succeed_and_claim(
                    last.id, name, {}, limit=rng.randint(0, 3)
                )
                assert recorded
            else:
                manager.succeed(last.id, name, {})
                claimed = []

    threads = [
        threading.Thread(target=race, args=(f"w{i}", random.Random(seed + i))) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert violations == []
    assert sorted(map(str, finished)) == sorted(set(map(str, finished)))
    assert len(finished) == total
    with Session(engine) as session:
        starts = Counter(session.scalars(select(Event.job_id).where(Event.type == "started")))
    assert set(starts.values()) == {1}


def run_worker(manager: JobManager, **timings: float) -> tuple[Worker, threading.Thread]:
    worker = Worker(manager, KINDS, timings=replace(FAST, **timings))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, thread


def test_cancel_stops_a_running_job_within_two_seconds(engine: Engine) -> None:
    manager = JobManager(engine)
    user = add_user(engine, Plan.FREE)
    job_id = submit(manager, user, "sleep", seconds=60)
    worker, thread = run_worker(manager)
    wait_for(lambda: job(engine, job_id).state == JobState.RUNNING)
    asked = time.monotonic()
    assert manager.cancel(job_id, user.id) == JobState.RUNNING
    wait_for(lambda: job(engine, job_id).state == JobState.CANCELED, timeout_s=5)
    assert time.monotonic() - asked < 2.0
    worker.stop()
    thread.join(5)


def test_the_heartbeat_follows_the_job_claimed_with_the_previous_success(
    engine: Engine,
) -> None:
    """The second job is claimed together with the first one's success; the worker's one
    heartbeat thread must carry its cancel too."""
    manager = JobManager(engine)
    user = add_user(engine, Plan.PRO)
    first = submit(manager, user, "sleep", seconds=0.3)
    second = submit(manager, user, "sleep", seconds=60)
    worker, thread = run_worker(manager)
    wait_for(lambda: job(engine, second).state == JobState.RUNNING)
    assert job(engine, first).state == JobState.SUCCEEDED
    asked = time.monotonic()
    assert manager.cancel(second, user.id) == JobState.RUNNING
    wait_for(lambda: job(engine, second).state == JobState.CANCELED, timeout_s=5)
    assert time.monotonic() - asked < 2.0
    assert job(engine, second).heartbeat_at is not None
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_graceful_stop_hands_back_a_long_job_without_using_an_attempt(engine: Engine) -> None:
    manager = JobManager(engine)
    job_id = submit(manager, add_user(engine, Plan.FREE), "sleep", seconds=60)
    worker, thread = run_worker(manager, grace_s=0.3)
    wait_for(lambda: job(engine, job_id).state == JobState.RUNNING)
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()
    found = job(engine, job_id)
    assert (found.state, found.attempts, found.worker_id) == (JobState.QUEUED, 0, None)


def test_graceful_stop_lets_a_short_job_finish(engine: Engine) -> None:
    manager = JobManager(engine)
    job_id = submit(manager, add_user(engine, Plan.FREE), "sleep", seconds=0.6)
    worker, thread = run_worker(manager)
    wait_for(lambda: job(engine, job_id).state == JobState.RUNNING)
    worker.stop()
    thread.join(5)
    assert job(engine, job_id).state == JobState.SUCCEEDED


def test_a_provider_failure_is_retried_by_the_worker(engine: Engine) -> None:
    manager = JobManager(engine)
    job_id = submit(manager, add_user(engine, Plan.PRO), "sleep", seconds=0.1, fail_attempts=1)
    worker, thread = run_worker(manager)
    wait_for(lambda: job(engine, job_id).state == JobState.SUCCEEDED, timeout_s=15)
    assert job(engine, job_id).attempts == 2
    worker.stop()
    thread.join(5)


def test_an_unknown_kind_fails_as_a_system_error(engine: Engine) -> None:
    manager = JobManager(engine)
    job_id = submit(manager, add_user(engine, Plan.PRO), "teleport")
    worker, thread = run_worker(manager)
    wait_for(
        lambda: job(engine, job_id).attempts == 2 and job(engine, job_id).state == JobState.FAILED
    )
    assert job(engine, job_id).error_class == "system"
    worker.stop()
    thread.join(5)


@pytest.mark.slow
def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    manager = JobManager(engine)
    output = tmp_path / "output.txt"
    job_id = submit(manager, add_user(engine, Plan.FREE), "sleep", seconds=3, output=str(output))
    env = {**os.environ, "REELFORGE_DATABASE_URL": db_url, "REELFORGE_DATA_DIR": str(tmp_path)}
    # Not shorter: a worker abandons its job when it cannot record a heartbeat for a little
    # less than this (WorkerTimings.abandon_after_s), and a busy machine can delay one by 1 s.
    command = [sys.executable, "-m", "tests.support.worker", "--stale-after", "5"]
    doomed = subprocess.Popen(command, env=env)
    try:
        wait_for(lambda: job(engine, job_id).state == JobState.RUNNING)
        time.sleep(1.0)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        survivor = subprocess.Popen(command, env=env)
        try:
            wait_for(lambda: job(engine, job_id).state == JobState.SUCCEEDED, timeout_s=30)
        finally:
            survivor.terminate()
            survivor.wait(30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    assert job(engine, job_id).attempts == 2
    assert output.read_text().splitlines() == [f"{job_id} attempt 2"]
    assert survivor.returncode == 0  # SIGTERM is a graceful stop


def test_an_in_process_pool_runs_jobs_in_parallel_and_stops(engine: Engine) -> None:
    manager = JobManager(engine)
    user = add_user(engine, Plan.PRO)
    ids = [submit(manager, user, "sleep", seconds=0.5) for _ in range(4)]
    pool = WorkerPool([Worker(manager, KINDS, timings=FAST) for _ in range(4)])
    started = time.monotonic()
    pool.start()
    wait_for(lambda: all(job(engine, i).state == JobState.SUCCEEDED for i in ids))
    assert time.monotonic() - started < 1.9  # four 0.5 s jobs, not one after another
    pool.stop(timeout_s=5)
    assert not any(t.is_alive() for t in pool._threads)
