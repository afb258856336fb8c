"""The worker loop: claim a job, run it while a heartbeat thread keeps its lease, record
the outcome. One job at a time per worker; run several workers (processes or threads).

- A success is recorded together with the next claim (`JobManager.succeed_and_claim`: one
  transaction on PostgreSQL), so a busy worker pays one database exchange per job.
- Heartbeats every `heartbeat_s` carry progress; the reply says if the user canceled. One
  heartbeat thread lives as long as the worker and beats for whichever job is running.
- Cancel: the job's next progress report raises `Interrupted`, the engine's cleanup
  (temp folders, ffmpeg children) runs, and the job is marked canceled.
- Graceful stop: no new claims; the running job gets `grace_s` to finish, then it is
  interrupted and handed back to the queue without using up an attempt.
- Crash: nothing to do here — the reaper in any other worker requeues the job once its
  heartbeat is `stale_after_s` old (or fails it, on its last attempt), and the retry resumes
  from cached artifacts.
- Database trouble never kills a worker: any database error in the loop, a heartbeat or while
  recording an outcome is logged and retried with back-off; an outcome is recorded once the
  database is back. A worker whose heartbeats have failed for `abandon_after_s` stops its
  render at the next progress report (another worker may get the job after `stale_after_s`:
  never two renders of one job at once). `WorkerPool` restarts a worker thread that died.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError

from reelforge.errors import FFmpegError, ReelforgeError
from reelforge.jobs.backoff import Backoff
from reelforge.jobs.kinds import JobRunner
from reelforge.jobs.manager import ClaimedJob, JobManager
from reelforge.jobs.metrics import JobMetrics
from reelforge.jobs.retry import ErrorClass, classify
from reelforge.jobs.wakeup import Waker, waker_for

log = logging.getLogger(__name__)
T = TypeVar("T")

DATABASE_ERRORS = (SQLAlchemyError,)
"""What a database outage looks like from here: every DBAPI error (connection lost, server
shutting down, a broken transaction) and SQLAlchemy's own (pool timeout). `manager_pg`
translates psycopg's errors into these."""


@dataclass(frozen=True, slots=True)
class WorkerTimings:
    heartbeat_s: float = 1.0
    poll_s: float = 1.0
    stale_after_s: float = 15.0
    reap_every_s: float = 5.0
    grace_s: float = 30.0
    retry_max_s: float = 10.0
    """Longest pause between two tries of a database call that failed (back-off doubles
    from `poll_s / 4` up to this)."""

    @property
    def abandon_after_s(self) -> float:
        """A render whose heartbeats have failed this long stops: the reaper may hand its
        job to another worker once the last recorded beat is `stale_after_s` old."""
        return max(self.stale_after_s - 2 * self.heartbeat_s, self.heartbeat_s)


class Interrupted(Exception):
    """Raised inside a running job to stop it: canceled, lease lost, or shutting down."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Lease:
    """The state one running job shares between the job thread and its heartbeat thread."""

    def __init__(self, abandon_after_s: float = float("inf")) -> None:
        self.abandon_after_s = abandon_after_s
        self.held_at = time.monotonic()
        """When a heartbeat last confirmed this worker holds the job (or it was claimed)."""
        self.progress = 0.0
        self.stage: str | None = None
        self.reported_stage: str | None = None
        self.interrupt: str | None = None
        self.completed: list[str] = []
        """Stages finished in this attempt: the job's checkpoints (their artifacts are cached,
        so a retry resumes there)."""
        self.reported_completed = 0

    def on_progress(self, stage: str, fraction: float, message: str) -> None:
        if self.interrupt is None and time.monotonic() - self.held_at > self.abandon_after_s:
            # Checked here, in the job's thread: it holds even if the heartbeat thread hangs.
            log.error("stopping a render: no heartbeat recorded for %.0f s", self.abandon_after_s)
            self.interrupt = "lost"
        if self.interrupt is not None:
            raise Interrupted(self.interrupt)
        self.stage, self.progress = stage, fraction
        if fraction >= 1.0 and stage not in self.completed:
            self.completed.append(stage)


class _Heartbeat:
    """The worker's heartbeat thread: every `heartbeat_s` it beats for the job being run, if
    any (one thread per worker, not one per job: starting threads costs more than a no-op job).
    A beat that races the job's end finds the job finished and only touches its old lease."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._current: tuple[ClaimedJob, _Lease] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def watch(self, job: ClaimedJob | None, lease: _Lease | None) -> None:
        self._current = (job, lease) if job is not None and lease is not None else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._worker.timings.heartbeat_s):
            current = self._current
            if current is None:
                continue
            try:
                self._worker.beat(*current)
            except DATABASE_ERRORS as exc:  # the next beat retries; the lease says how long
                log.warning("heartbeat failed: %s", exc)
            except Exception:  # a bug here must not stop the beats of every later job
                log.exception("heartbeat failed")


class Worker:
    def __init__(
        self,
        manager: JobManager,
        kinds: Mapping[str, JobRunner],
        *,
        worker_id: str | None = None,
        timings: WorkerTimings | None = None,
        metrics: JobMetrics | None = None,
    ) -> None:
        self.manager = manager
        self.metrics = metrics
        """Wait and run time and outcome of each attempt, observed as it ends (optional)."""
        self.kinds = kinds
        self.worker_id = worker_id or new_worker_id()
        self.timings = timings or WorkerTimings()
        self.stopping = threading.Event()
        self.abandoned = threading.Event()
        """Set when the pool gives up waiting for this worker (shutdown): nothing more of its
        running job is recorded, its heartbeats stop, and the reaper requeues the job."""
        self._handback_at: float | None = None
        self._last_reap = 0.0
        self._lease: _Lease | None = None
        self._beat: _Heartbeat | None = None

    def stop(self) -> None:
        """Graceful stop: finish (or after the grace period hand back) the running job."""
        self._handback_at = time.monotonic() + self.timings.grace_s
        self.stopping.set()

    def abandon(self) -> None:
        """Give up on a render that did not stop in time: stop heartbeating it (so the reaper
        requeues it once stale) and let it stop at its next progress report, recording nothing."""
        self.abandoned.set()
        self.stopping.set()
        if self._beat is not None:
            self._beat.watch(None, None)
        lease = self._lease
        if lease is not None:
            lease.interrupt = "lost"

    def run(self) -> None:
        """Claim and run jobs until stopped. Never raises for a database outage or a bug in
        one iteration: it logs, backs off and carries on."""
        waker: Waker = waker_for(self.manager.engine, self.manager.wakeup)
        beat = _Heartbeat(self)
        beat.start()
        backoff = Backoff(self.timings.poll_s / 4, self.timings.retry_max_s)
        try:
            ready: list[ClaimedJob] = []
            while (ready or not self.stopping.is_set()) and not self.abandoned.is_set():
                try:
                    if not ready:
                        claimed = self._claim(backoff)
                        if claimed is None:
                            continue
                        if not claimed:
                            waker.wait(self.timings.poll_s)
                            continue
                        ready = claimed
                    job, ready = ready[0], ready[1:]
                    ready += self._run(job, beat)
                except Exception:  # a bug: log it, keep the worker alive (jobs left are reaped)
                    log.exception("worker %s: unexpected error, carrying on", self.worker_id)
                    ready = []
                    self.stopping.wait(backoff.next_s())
        finally:
            beat.stop()
            waker.close()

    def _claim(self, backoff: Backoff) -> list[ClaimedJob] | None:
        """The next jobs (reaping first when due); None if the database is unavailable."""
        try:
            self._maybe_reap()
            claimed = self.manager.claim(self.worker_id)
        except DATABASE_ERRORS as exc:  # database restarting or unreachable
            pause_s = backoff.next_s()
            log.warning("queue database unavailable, retrying in %.1f s: %s", pause_s, exc)
            self.stopping.wait(pause_s)
            return None
        backoff.reset()
        return claimed

    def _maybe_reap(self) -> None:
        now = time.monotonic()
        if now - self._last_reap >= self.timings.reap_every_s:
            self._last_reap = now
            for reaped in self.manager.reap(self.timings.stale_after_s):
                if reaped.failed:
                    log.error("failed job %s in stage %s: %s", reaped.id, reaped.stage,
                              reaped.message)  # fmt: skip
                else:
                    log.warning("requeued job %s: its worker stopped heartbeating", reaped.id)

    def run_job(self, job: ClaimedJob) -> None:
        """Run one claimed job to its recorded outcome, with its own heartbeat thread."""
        beat = _Heartbeat(self)
        beat.start()
        try:
            self._run(job, beat, claim_next=False)
        finally:
            beat.stop()

    def _run(self, job: ClaimedJob, beat: _Heartbeat, claim_next: bool = True) -> list[ClaimedJob]:
        """Run `job` while `beat` keeps its lease; record the outcome (the lease is kept while
        recording, which may wait for the database). On success the next job is claimed in
        the same exchange (unless stopping or reaping is due): it is returned."""
        lease = _Lease(self.timings.abandon_after_s)
        self._lease, self._beat = lease, beat
        structlog.contextvars.clear_contextvars()  # this thread's lines now name this job
        structlog.contextvars.bind_contextvars(
            job_id=str(job.id), kind=job.kind, request_id=job.payload.get("request_id")
        )
        beat.watch(job, lease)
        if self.metrics is not None:
            self.metrics.started(job.kind, job.enqueued_at, self.manager.clock())
        begun = time.monotonic()
        claimed: list[ClaimedJob] = []
        try:
            try:
                result = self._execute(job, lease)
            except Interrupted as stop:
                outcome = self._record_interruption(job, stop.reason)
            except Exception as error:  # any failure of the job is recorded, never lost
                outcome = self._record_failure(job, lease, error)
            else:
                outcome, claimed = self._record_success(job, result, claim_next)
                if self.metrics is not None:
                    self.metrics.succeeded(result)
            log.info("job %s: %s after %.1f s", job.id, outcome, time.monotonic() - begun)
        finally:
            beat.watch(None, None)
            self._lease = None
            structlog.contextvars.clear_contextvars()
        if self.metrics is not None:
            self.metrics.ended(job.kind, outcome, time.monotonic() - begun)
        return claimed

    def _record(self, job: ClaimedJob, outcome: str, record: Callable[[], T]) -> T | None:
        """`record()` until the database takes it (back-off between tries); None if this worker
        was abandoned meanwhile (the reaper will requeue the job)."""
        backoff = Backoff(self.timings.poll_s / 4, self.timings.retry_max_s)
        while not self.abandoned.is_set():
            try:
                return record()
            except DATABASE_ERRORS as exc:
                pause_s = backoff.next_s()
                log.warning("could not record job %s as %s, retrying in %.1f s: %s",
                            job.id, outcome, pause_s, exc)  # fmt: skip
                self.abandoned.wait(pause_s)
        log.warning("job %s: abandoned before its outcome (%s) was recorded", job.id, outcome)
        return None

    def _record_success(
        self, job: ClaimedJob, result: dict[str, Any], claim_next: bool
    ) -> tuple[str, list[ClaimedJob]]:
        reap_due = time.monotonic() - self._last_reap >= self.timings.reap_every_s
        limit = 0 if not claim_next or self.stopping.is_set() or reap_due else 1
        recorded = self._record(
            job, "succeeded",
            lambda: self.manager.succeed_and_claim(
                job.id, self.worker_id, result, limit, batch_id=job.payload.get("batch_id")
            ),
        )  # fmt: skip
        if recorded is None:
            return "lost", []
        done, claimed = recorded
        if not done:
            log.warning("job %s finished, but another worker holds it now", job.id)
        return "succeeded" if done else "lost", claimed

    def _execute(self, job: ClaimedJob, lease: _Lease) -> dict[str, Any]:
        runner = self.kinds.get(job.kind)
        if runner is None:
            raise ReelforgeError(f"this worker cannot run jobs of kind {job.kind!r}")
        return runner(job, lease.on_progress)

    def beat(self, job: ClaimedJob, lease: _Lease) -> None:
        """One heartbeat for `job`: report progress, learn of cancel, lost lease or hand-back."""
        stage = lease.stage if lease.stage != lease.reported_stage else None
        completed = list(lease.completed)
        new_checkpoints = len(completed) > lease.reported_completed
        checkpoints = {"completed": completed} if new_checkpoints else None
        reply = self.manager.heartbeat(
            job.id, self.worker_id, progress=lease.progress, stage=stage, checkpoints=checkpoints
        )
        lease.reported_stage, lease.reported_completed = lease.stage, len(completed)
        if reply is None:
            lease.interrupt = "lost"
            return
        lease.held_at = time.monotonic()
        if reply:
            lease.interrupt = "canceled"
        elif self._handback_at is not None and time.monotonic() >= self._handback_at:
            lease.interrupt = "shutdown"

    def _record_interruption(self, job: ClaimedJob, reason: str) -> str:
        """Record a cancel or a hand-back; returns the outcome ("lost" if not ours)."""
        if reason == "canceled":
            done = self._record(
                job, "canceled", lambda: self.manager.canceled(job.id, self.worker_id)
            )
            return "canceled" if done else "lost"
        if reason == "shutdown":
            done = self._record(
                job, "handed back", lambda: self.manager.release(job.id, self.worker_id)
            )
            return "handed_back" if done else "lost"
        return "lost"  # the reaper gave the job to another worker; nothing is ours to record

    def _record_failure(self, job: ClaimedJob, lease: _Lease, error: Exception) -> str:
        """Retry or fail the job by the error's class. The stage is the error's own, else the
        stage the job last reported (an error that is not reelforge's keeps its stage too)."""
        error_class = classify(error)
        if isinstance(error, ReelforgeError):
            stage, message = error.stage or lease.stage, error.message
        else:
            stage, message = lease.stage, f"{type(error).__name__}: {error}"
        detail = error.stderr_tail if isinstance(error, FFmpegError) else None
        if detail is not None:
            log.error("job %s: ffmpeg failed in stage %s: %s; its stderr ends:\n%s",
                      job.id, stage, message, detail)  # fmt: skip
        if error_class is ErrorClass.SYSTEM:
            log.error("job %s failed with a system error in stage %s", job.id, stage,
                      exc_info=error)  # fmt: skip
        decision = self._record(
            job, "failed",
            lambda: self.manager.fail(
                job.id, self.worker_id, error_class, message, stage, job.attempts,
                job.max_attempts, detail=detail,
            ),
        )  # fmt: skip
        if decision is None:
            return "lost"
        if self.metrics is not None:
            self.metrics.failed(error_class.value, stage, decision.retry)
        return "retrying" if decision.retry else "failed"


class WorkerPool:
    """N workers as threads in this process: the embedded default (`reelforge serve`).
    A supervisor thread restarts any worker thread that died (it logs why)."""

    SUPERVISE_EVERY_S = 1.0

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._threads = [self._thread(i) for i in range(len(workers))]
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(
            target=self._supervise, name="worker-supervisor", daemon=True
        )
        self.restarts = 0

    def _thread(self, index: int) -> threading.Thread:
        return threading.Thread(target=self.workers[index].run, name=f"worker-{index}", daemon=True)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(self.SUPERVISE_EVERY_S):
            for index, thread in enumerate(self._threads):
                if not thread.is_alive() and not self._stopping.is_set():
                    log.error("render worker %s stopped unexpectedly; restarting it",
                              self.workers[index].worker_id)  # fmt: skip
                    self._threads[index] = self._thread(index)
                    self._threads[index].start()
                    self.restarts += 1

    def stop(self, timeout_s: float | None = None) -> list[Worker]:
        """Stop every worker gracefully, waiting at most `timeout_s` in all; workers still
        running then are abandoned (their jobs are requeued by the reaper once stale).

        Returns:
            The abandoned workers.
        """
        self._stopping.set()
        for worker in self.workers:
            worker.stop()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        if self._supervisor.is_alive():
            self._supervisor.join()
        stuck = [w for w, t in zip(self.workers, self._threads, strict=True) if t.is_alive()]
        for worker in stuck:
            log.error("render worker %s did not stop within %s s; abandoning its job",
                      worker.worker_id, timeout_s)  # fmt: skip
            worker.abandon()
        return stuck
