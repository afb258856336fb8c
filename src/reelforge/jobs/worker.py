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
  heartbeat is `stale_after_s` old, and the retry resumes from cached artifacts.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError

from reelforge.errors import ReelforgeError
from reelforge.jobs.kinds import JobRunner
from reelforge.jobs.manager import ClaimedJob, JobManager
from reelforge.jobs.retry import ErrorClass, classify
from reelforge.jobs.wakeup import Waker, waker_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerTimings:
    heartbeat_s: float = 1.0
    poll_s: float = 1.0
    stale_after_s: float = 15.0
    reap_every_s: float = 5.0
    grace_s: float = 30.0


class Interrupted(Exception):
    """Raised inside a running job to stop it: canceled, lease lost, or shutting down."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Lease:
    """The state one running job shares between the job thread and its heartbeat thread."""

    def __init__(self) -> None:
        self.progress = 0.0
        self.stage: str | None = None
        self.reported_stage: str | None = None
        self.interrupt: str | None = None
        self.completed: list[str] = []
        """Stages finished in this attempt: the job's checkpoints (their artifacts are cached,
        so a retry resumes there)."""
        self.reported_completed = 0

    def on_progress(self, stage: str, fraction: float, message: str) -> None:
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
            except OperationalError as exc:  # the next beat retries; the lease is stale-proof
                log.warning("heartbeat failed: %s", exc)


class Worker:
    def __init__(
        self,
        manager: JobManager,
        kinds: Mapping[str, JobRunner],
        *,
        worker_id: str | None = None,
        timings: WorkerTimings | None = None,
    ) -> None:
        self.manager = manager
        self.kinds = kinds
        self.worker_id = worker_id or new_worker_id()
        self.timings = timings or WorkerTimings()
        self.stopping = threading.Event()
        self._handback_at: float | None = None
        self._last_reap = 0.0

    def stop(self) -> None:
        """Graceful stop: finish (or after the grace period hand back) the running job."""
        self._handback_at = time.monotonic() + self.timings.grace_s
        self.stopping.set()

    def run(self) -> None:
        waker: Waker = waker_for(self.manager.engine, self.manager.wakeup)
        beat = _Heartbeat(self)
        beat.start()
        try:
            ready: list[ClaimedJob] = []
            while ready or not self.stopping.is_set():
                if not ready:
                    claimed = self._claim()
                    if claimed is None:
                        continue
                    if not claimed:
                        waker.wait(self.timings.poll_s)
                        continue
                    ready = claimed
                job, ready = ready[0], ready[1:]
                ready += self._run(job, beat)
        finally:
            beat.stop()
            waker.close()

    def _claim(self) -> list[ClaimedJob] | None:
        """The next jobs (reaping first when due); None if the database is unavailable."""
        try:
            self._maybe_reap()
            return self.manager.claim(self.worker_id)
        except OperationalError as exc:  # database restarting or unreachable
            log.warning("queue database unavailable, retrying: %s", exc)
            self.stopping.wait(self.timings.poll_s)
            return None

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
        """Run `job` while `beat` keeps its lease; record the outcome. On success the next job
        is claimed in the same exchange (unless stopping or reaping is due): it is returned."""
        lease = _Lease()
        beat.watch(job, lease)
        try:
            result = self._execute(job, lease)
        except Interrupted as stop:
            beat.watch(None, None)
            self._record_interruption(job, stop.reason)
        except Exception as error:  # any failure of the job is recorded, never lost
            beat.watch(None, None)
            self._record_failure(job, error)
        else:
            beat.watch(None, None)
            return self._record_success(job, result, claim_next)
        return []

    def _record_success(
        self, job: ClaimedJob, result: dict[str, Any], claim_next: bool
    ) -> list[ClaimedJob]:
        reap_due = time.monotonic() - self._last_reap >= self.timings.reap_every_s
        limit = 0 if not claim_next or self.stopping.is_set() or reap_due else 1
        try:
            _, claimed = self.manager.succeed_and_claim(job.id, self.worker_id, result, limit)
        except OperationalError as exc:
            # Not recorded: the job stays running until the reaper requeues it (it runs again).
            log.warning("could not record job %s as succeeded: %s", job.id, exc)
            self.stopping.wait(self.timings.poll_s)
            return []
        return claimed

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
        elif reply:
            lease.interrupt = "canceled"
        elif self._handback_at is not None and time.monotonic() >= self._handback_at:
            lease.interrupt = "shutdown"

    def _record_interruption(self, job: ClaimedJob, reason: str) -> None:
        if reason == "canceled":
            self.manager.canceled(job.id, self.worker_id)
        elif reason == "shutdown":
            self.manager.release(job.id, self.worker_id)
        # "lost": the reaper gave the job to another worker; nothing is ours to record

    def _record_failure(self, job: ClaimedJob, error: Exception) -> None:
        error_class = classify(error)
        stage = error.stage if isinstance(error, ReelforgeError) else None
        message = error.message if isinstance(error, ReelforgeError) else repr(error)
        if error_class is ErrorClass.SYSTEM:
            log.error("job %s failed with a system error", job.id, exc_info=error)
        self.manager.fail(
            job.id, self.worker_id, error_class, message, stage, job.attempts, job.max_attempts
        )


class WorkerPool:
    """N workers as threads in this process: the embedded default (`reelforge serve`)."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._threads = [
            threading.Thread(target=w.run, name=f"worker-{i}", daemon=True)
            for i, w in enumerate(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        for worker in self.workers:
            worker.stop()
        for thread in self._threads:
            thread.join(timeout_s)
