"""Workers under faults (issue #22), on SQLite and PostgreSQL: database errors while a worker
records an outcome or beats, a worker thread that dies, a render that hangs at shutdown.
Every wait is bounded: a regression fails the test, it never hangs the suite."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from reelforge.db.models import JobState, RenderJob
from reelforge.engine.context import ProgressCallback
from reelforge.errors import FFmpegError
from reelforge.jobs.manager import ClaimedJob, JobManager
from reelforge.jobs.retry import ErrorClass
from reelforge.jobs.testing import noop, sleep
from reelforge.jobs.worker import Worker, WorkerPool
from reelforge.model.plans import Plan
from tests.integration.jobs.test_worker import FAST, add_user, job, submit, wait_for

KINDS = {"noop": noop, "sleep": sleep}


def database_down(what: str) -> OperationalError:
    return OperationalError(what, None, Exception("server closed the connection unexpectedly"))


class FlakyManager(JobManager):
    """The real manager, whose `fail` and `heartbeat` raise database errors on demand."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.failing_records = 0
        self.heartbeats_broken = threading.Event()

    def fail(self, *args: Any, **kwargs: Any) -> Any:
        if self.failing_records > 0:
            self.failing_records -= 1
            raise database_down("UPDATE render_jobs")
        return super().fail(*args, **kwargs)

    def heartbeat(self, *args: Any, **kwargs: Any) -> bool | None:
        if self.heartbeats_broken.is_set():  # not an OperationalError: what killed the thread
            raise InterfaceError("UPDATE render_jobs", None, Exception("connection already closed"))
        return super().heartbeat(*args, **kwargs)


def start(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


def test_a_database_error_while_recording_a_failure_is_retried_and_the_worker_lives_on(
    engine: Engine,
) -> None:
    """It killed the worker thread; now the failure is recorded once the database answers."""
    manager = FlakyManager(engine)
    manager.failing_records = 2
    user = add_user(engine, Plan.PRO)
    with_error = submit(manager, user, "sleep", seconds=0.05, fail_attempts=9)
    worker = Worker(manager, KINDS, timings=FAST)
    thread = start(worker)
    seen: list[RenderJob] = []

    def failure_recorded() -> bool:
        """One read per check: two reads could see QUEUED before the claim, then attempt 1."""
        seen.append(job(engine, with_error))
        return seen[-1].state == JobState.QUEUED and seen[-1].attempts == 1

    wait_for(failure_recorded, timeout_s=15)
    found = seen[-1]
    assert (found.error_class, found.error_stage) == (ErrorClass.PROVIDER, "sleep")
    assert manager.failing_records == 0
    later = submit(manager, user, "noop")
    wait_for(lambda: job(engine, later).state == JobState.SUCCEEDED, timeout_s=15)
    assert thread.is_alive()
    worker.stop()
    thread.join(10)
    assert not thread.is_alive()


class Tracked:
    """A job kind that reports progress for `seconds` and logs when each attempt runs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.runs: list[tuple[int, float, float]] = []
        self.attempt = 0

    def __call__(self, job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
        self.attempt = job.attempts
        begun = time.monotonic()
        try:
            while time.monotonic() - begun < self.seconds:
                on_progress("compose", (time.monotonic() - begun) / self.seconds, "working")
                time.sleep(0.02)
        finally:
            self.runs.append((job.attempts, begun, time.monotonic()))
        return {}


def test_a_worker_that_cannot_heartbeat_stops_its_render_before_another_worker_takes_it(
    engine: Engine,
) -> None:
    """Heartbeats failing with a non-`OperationalError` DBAPI error used to stop for good
    while the render went on: after `stale_after_s` a second worker rendered the same job
    in parallel. Now the render stops first, and the job completes once, on attempt 2."""
    manager = FlakyManager(engine)
    tracked = Tracked(seconds=5.0)
    kinds = {"tracked": tracked}
    job_id = submit(manager, add_user(engine, Plan.FREE), "tracked")
    first = Worker(manager, kinds, worker_id="first", timings=FAST)
    threads = [start(first)]
    wait_for(lambda: tracked.attempt == 1)
    manager.heartbeats_broken.set()
    second = Worker(manager, kinds, worker_id="second", timings=FAST)
    threads.append(start(second))
    wait_for(lambda: len(tracked.runs) == 1, timeout_s=10)
    manager.heartbeats_broken.clear()
    wait_for(lambda: job(engine, job_id).state == JobState.SUCCEEDED, timeout_s=20)
    (attempt_1, _, ended_1), (attempt_2, begun_2, _) = tracked.runs
    assert (attempt_1, attempt_2) == (1, 2)
    assert ended_1 < begun_2  # never two renders of one job at once
    assert ended_1 - tracked.runs[0][1] < tracked.seconds  # the first one was stopped
    assert job(engine, job_id).attempts == 2
    for worker in (first, second):
        worker.stop()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


class DiesOnce(Worker):
    """A worker whose first run dies of something no handler expected."""

    died = False

    def run(self) -> None:
        if not self.died:
            self.died = True
            raise SystemExit("killed by a rogue library")
        super().run()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_pool_restarts_a_worker_thread_that_died(engine: Engine) -> None:
    manager = JobManager(engine)
    pool = WorkerPool([DiesOnce(manager, KINDS, timings=FAST)])
    pool.start()
    job_id = submit(manager, add_user(engine, Plan.PRO), "noop")
    wait_for(lambda: job(engine, job_id).state == JobState.SUCCEEDED, timeout_s=15)
    assert pool.restarts == 1
    assert pool.stop(timeout_s=10) == []


UNHANG = threading.Event()


def hang(job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
    """A render stuck without reporting progress (a hung library call), until `UNHANG`."""
    on_progress("compose", 0.5, "encoding")
    UNHANG.wait(120)
    on_progress("compose", 0.6, "encoding")  # an abandoned render stops at its next report
    return {}


def test_stopping_a_pool_with_a_hung_render_is_bounded_and_the_job_is_requeued(
    engine: Engine,
) -> None:
    """`reelforge serve` used to join its workers with no timeout: a hung render blocked
    shutdown forever. Now the pool gives up after its timeout, abandons the render (no more
    heartbeats), and the reaper requeues the job as for a dead worker."""
    manager = JobManager(engine)
    UNHANG.clear()
    job_id = submit(manager, add_user(engine, Plan.PRO), "hang")
    timings = replace(FAST, grace_s=0.3)
    pool = WorkerPool([Worker(manager, {"hang": hang}, worker_id="stuck", timings=timings)])
    pool.start()
    wait_for(lambda: job(engine, job_id).state == JobState.RUNNING)
    stopper = threading.Thread(target=lambda: abandoned.extend(pool.stop(timeout_s=1.0)))
    abandoned: list[Worker] = []
    stopper.start()
    stopper.join(15)
    assert not stopper.is_alive()
    assert [w.worker_id for w in abandoned] == ["stuck"]
    reaped: list[UUID] = []
    wait_for(lambda: reaped.extend(r.id for r in manager.reap(FAST.stale_after_s)) or reaped)
    found = job(engine, job_id)
    assert reaped == [job_id] and found.state == JobState.QUEUED
    assert (found.worker_id, found.attempts) == (None, 1)
    UNHANG.set()  # the abandoned render wakes up: it stops, recording nothing
    pool._threads[0].join(10)
    assert not pool._threads[0].is_alive()
    assert job(engine, job_id).state == JobState.QUEUED


def broken_library(job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
    on_progress("voice", 0.3, "speaking")
    raise ValueError("cannot reshape array of size 0")


def crashing_ffmpeg(job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
    on_progress("compose", 0.9, "joining")
    tail = "[mp4 @ 0x1] moov atom not found\nConversion failed!\n"
    raise FFmpegError(["ffmpeg", "-i", "x"], -11, tail, stage="compose")


def test_an_error_that_is_not_reelforges_keeps_the_stage_it_happened_in(engine: Engine) -> None:
    manager = JobManager(engine)
    job_id = submit(manager, add_user(engine, Plan.PRO), "broken")
    worker = Worker(manager, {"broken": broken_library}, timings=FAST)
    thread = start(worker)
    try:
        wait_for(lambda: job(engine, job_id).error_class is not None)
    finally:
        worker.stop()
        thread.join(10)
    found = job(engine, job_id)
    assert (found.error_class, found.error_stage) == ("system", "voice")
    assert found.error_message == "ValueError: cannot reshape array of size 0"


def test_an_ffmpeg_crash_is_a_system_error_with_its_stderr_logged_and_kept(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    alerts: list[tuple[object, ...]] = []
    manager = JobManager(engine, on_system_error=lambda *a: alerts.append(a))
    job_id = submit(manager, add_user(engine, Plan.PRO), "crash")
    worker = Worker(manager, {"crash": crashing_ffmpeg}, timings=FAST)
    with caplog.at_level(logging.ERROR, logger="reelforge.jobs.worker"):
        thread = start(worker)
        try:
            wait_for(lambda: job(engine, job_id).error_class is not None)
        finally:
            worker.stop()
            thread.join(10)
    found = job(engine, job_id)
    assert (found.error_class, found.error_stage) == ("system", "compose")  # not "provider"
    assert found.result == {"error_detail": "[mp4 @ 0x1] moov atom not found\nConversion failed!\n"}
    assert "moov atom not found" in caplog.text  # the operator sees why in the log
    assert alerts and alerts[0][2] == "compose"  # the admins are told
