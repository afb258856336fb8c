"""The job manager: with its PostgreSQL fast path (`manager_pg.py`), the only code that runs
queue SQL. Every transition writes its event in the same transaction, so the event log never
disagrees with the job table.

Claiming is race-free across workers and hosts:
- SQLite: the whole claim is one `BEGIN IMMEDIATE` transaction (one writer at a time), with
  the portable statements of `queries.py`.
- PostgreSQL: `manager_pg.py` runs the claim (and a worker's success-then-claim) as pipelined,
  prepared statements from `queries_pg.py`. The owner's user row is locked
  `FOR UPDATE SKIP LOCKED`, and only if it is unchanged since their running jobs were counted,
  so two workers can never both start a user's last allowed job; a job is started only by an
  update that still finds it queued, so no job is claimed twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, make_transient_to_detached

from reelforge.db.crud.product_events import Fact
from reelforge.db.models import FINAL_STATES, JobState, RenderJob, User, utcnow
from reelforge.db.session import is_sqlite
from reelforge.jobs import queries as q
from reelforge.jobs.manager_pg import PgClaims, Success, insert_job
from reelforge.jobs.policy import Candidate, SchedulingPolicy, rank
from reelforge.jobs.position import queue_position
from reelforge.jobs.retry import ErrorClass, RetryDecision, decide
from reelforge.model.plans import Plan

NOTIFY_CHANNEL = "reelforge_jobs"
RENDER_KIND = "render"
"""The kind users submit; only its outcomes are product facts (not tests' `noop`/`sleep`)."""
OUTCOME_FACTS: dict[str, Fact] = {
    JobState.SUCCEEDED: Fact.RENDER_SUCCEEDED,
    JobState.FAILED: Fact.RENDER_FAILED,
}
CANDIDATES_PER_CLAIM = 500
"""Users' head jobs considered per claim (oldest first); ageing covers the rest."""


class KeyTaken(Exception):
    """`enqueue` was given an idempotency key its owner already used: nothing was added."""


@dataclass(frozen=True, slots=True)
class NewJob:
    """One job for `JobManager.enqueue_many` (the arguments of `enqueue`)."""

    owner: User
    kind: str = RENDER_KIND
    payload: dict[str, Any] = field(default_factory=dict)
    project_id: UUID | None = None
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: UUID
    owner_id: UUID
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    checkpoints: dict[str, Any]
    enqueued_at: datetime | None = None
    """When the job was submitted (its wait is measured from here)."""


@dataclass(frozen=True, slots=True)
class Reaped:
    """A running job the reaper took from a silent worker: requeued, or `failed` (its last
    attempt), with why and the stage it was in."""

    id: UUID
    failed: bool
    message: str
    stage: str | None


class JobManager:
    def __init__(
        self,
        engine: Engine,
        policy: SchedulingPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_system_error: Callable[[UUID, str, str | None], object] | None = None,
    ) -> None:
        self.engine = engine
        self.on_system_error = on_system_error
        """Called after a system error is recorded (e.g. `alerts.WebhookAlert`)."""
        self.policy = policy or SchedulingPolicy()
        self.clock = clock
        self.wakeup = threading.Event()
        """Set when this process enqueues: in-process workers wake at once."""
        self._last_enqueued: datetime | None = None
        self._enqueue_lock = threading.Lock()
        self._notify_channel = None if is_sqlite(engine) else NOTIFY_CHANNEL
        self._pg = (
            None
            if is_sqlite(engine)
            else PgClaims(engine, self.policy, clock, CANDIDATES_PER_CLAIM)
        )

    def _enqueue_time(self) -> datetime:
        """Strictly increasing in this process, so a user's jobs keep submission order."""
        with self._enqueue_lock:
            now = self.clock()
            if self._last_enqueued is not None and now <= self._last_enqueued:
                now = self._last_enqueued + timedelta(microseconds=1)
            self._last_enqueued = now
            return now

    # -- submitting ---------------------------------------------------------------------

    def enqueue(
        self,
        session: Session,
        owner: User,
        *,
        kind: str = RENDER_KIND,
        payload: dict[str, Any] | None = None,
        project_id: UUID | None = None,
        max_attempts: int = 3,
        idempotency_key: str | None = None,
    ) -> RenderJob:
        """Add a job in the caller's transaction (the caller commits), with its event.

        The row goes in as one Core statement (PostgreSQL: one round trip with the event and
        the wake-up, `queries_pg.ENQUEUE`), and the `RenderJob` returned is made of the same
        values and put in `session` as loaded: no ORM flush, no reload.

        Raises:
            KeyTaken: the owner already has a job with this `idempotency_key` (nothing added).
        """
        now = self._enqueue_time()
        row = q.job_row(
            id=uuid4(), owner_id=owner.id, project_id=project_id, kind=kind,
            plan=Plan(owner.plan), payload=payload or {}, max_attempts=max_attempts,
            enqueued_at=now, run_after=self.clock(), idempotency_key=idempotency_key,
        )  # fmt: skip
        data = {"kind": kind}
        session.flush()  # rows the job refers to (its project, its owner) go in first
        connection = session.connection()
        if self._pg is not None:
            added = insert_job(connection, row, data, NOTIFY_CHANNEL)
        else:
            added = connection.execute(q.insert_job_once(row)).rowcount == 1
            if added:
                connection.execute(q.append_event(owner.id, row["id"], "queued", data, now))
        if not added:
            raise KeyTaken(idempotency_key)
        job = RenderJob(**row)
        make_transient_to_detached(job)  # as if loaded: its attributes are the row's
        session.add(job)
        self._woken()
        return job

    def enqueue_many(self, session: Session, jobs: Sequence[NewJob]) -> list[UUID]:
        """Add many jobs in the caller's transaction (the caller commits), in this order, with
        their events: the rows go in batches (no ORM objects), with one notification.

        Returns:
            The new jobs' ids, in order.
        """
        if not jobs:
            return []
        ids, rows, events = [], [], []
        run_after = self.clock()
        for new in jobs:
            job_id, now = uuid4(), self._enqueue_time()
            ids.append(job_id)
            rows.append({
                "id": job_id, "owner_id": new.owner.id, "project_id": new.project_id,
                "kind": new.kind, "plan": Plan(new.owner.plan), "payload": new.payload,
                "max_attempts": new.max_attempts, "enqueued_at": now, "run_after": run_after,
            })  # fmt: skip
            events.append(q.event_row(new.owner.id, job_id, "queued", {"kind": new.kind}, now))
        session.execute(q.insert_jobs(), rows)
        session.execute(q.insert_events(), events)
        if self._notify_channel is not None:
            session.execute(q.notify(self._notify_channel))
        self._woken()
        return ids

    # -- claiming -----------------------------------------------------------------------

    def _begin(self) -> Connection:
        conn = self.engine.connect()
        return conn.execution_options(sqlite_immediate=True) if is_sqlite(self.engine) else conn

    def claim(self, worker_id: str, limit: int = 1) -> list[ClaimedJob]:
        """Start up to `limit` jobs for `worker_id`, best first by the scheduling policy."""
        if self._pg is not None:
            return [ClaimedJob(*row) for row in self._pg.claim(worker_id, limit)[1]]
        claimed: list[ClaimedJob] = []
        with self._begin() as conn, conn.begin():
            now = self.clock()
            while len(claimed) < limit:
                job = self._claim_best(conn, worker_id, now)
                if job is None:
                    break
                claimed.append(job)
        return claimed

    def _claim_best(self, conn: Connection, worker_id: str, now: datetime) -> ClaimedJob | None:
        """Start the best job the policy allows (heads are re-read: the last claim changed them)."""
        heads = conn.execute(q.candidate_heads(), {"now": now, "limit": CANDIDATES_PER_CLAIM}).all()
        candidates = [
            Candidate(r.id, r.owner_id, Plan(r.plan), r.enqueued_at, r.running, r.last_claimed_at)
            for r in heads
        ]
        for candidate in rank(candidates, self.policy, now):
            job = self._try_start(conn, candidate, worker_id, now)
            if job is not None:
                return job
        return None

    def _try_start(
        self, conn: Connection, candidate: Candidate, worker_id: str, now: datetime
    ) -> ClaimedJob | None:
        owner = candidate.owner_id
        assert isinstance(owner, UUID) and isinstance(candidate.job_id, UUID)
        # SQLite's BEGIN IMMEDIATE already serialises claims; PostgreSQL needs the row lock.
        if not is_sqlite(self.engine) and conn.execute(q.lock_user(owner)).first() is None:
            return None  # another worker is claiming for this user right now
        limit = self.policy.concurrency[candidate.plan]
        if conn.execute(q.running_count(owner)).scalar_one() >= limit:
            return None
        # No separate job-row lock: only a holder of the owner's row starts their jobs, and
        # the update re-checks `state = 'queued'`, so a job can never be started twice.
        # `started_at` is read after the lock, so it never predates the previous job's end.
        started = max(self.clock(), now)
        row = conn.execute(q.start_job(candidate.job_id, worker_id, started)).first()
        if row is None:
            return None
        conn.execute(q.mark_served(owner, started))
        event = q.append_event(owner, row.id, "started", {"attempt": row.attempts}, started)
        conn.execute(event)
        return ClaimedJob(
            row.id, row.owner_id, row.kind, row.payload, row.attempts, row.max_attempts,
            row.checkpoints, row.enqueued_at,
        )  # fmt: skip

    # -- while running -------------------------------------------------------------------

    def heartbeat(
        self,
        job_id: UUID,
        worker_id: str,
        *,
        progress: float | None = None,
        stage: str | None = None,
        checkpoints: dict[str, Any] | None = None,
    ) -> bool | None:
        """Record liveness (and progress); returns whether cancel was asked for,
        or None if this worker no longer holds the job (it was reaped)."""
        values: dict[str, Any] = {}
        if progress is not None:
            values["progress"] = progress
        if stage is not None:
            values["stage"] = stage
        if checkpoints is not None:
            values["checkpoints"] = checkpoints
        with self.engine.begin() as conn:
            now = self.clock()
            row = conn.execute(q.heartbeat(job_id, worker_id, now, **values)).first()
            if row is None:
                return None
            if stage is not None:
                data = {"stage": stage, "progress": progress}
                conn.execute(q.append_event(row.owner_id, job_id, "progress", data, now))
            return bool(row.cancel_requested)

    def succeed(self, job_id: UUID, worker_id: str, result: dict[str, Any]) -> bool:
        values = {"state": JobState.SUCCEEDED, "progress": 1.0, "result": result}
        return self._finish(job_id, worker_id, "succeeded", {"result": result}, values)

    def succeed_and_claim(
        self, job_id: UUID, worker_id: str, result: dict[str, Any], limit: int = 1,
        batch_id: str | None = None,
    ) -> tuple[bool, list[ClaimedJob]]:  # fmt: skip
        """`succeed`, then `claim(worker_id, limit)`: on PostgreSQL in the same round trip and
        transaction as the first claim attempt (a busy worker's whole cost per job).
        `batch_id` (the job's payload's): its batch gets a `batch_progress` event.

        Returns:
            Whether the success was recorded (as `succeed`), and the jobs now started.
        """
        if self._pg is None:
            recorded = self.succeed(job_id, worker_id, result)
            return recorded, self.claim(worker_id, limit) if limit > 0 else []
        recorded, rows = self._pg.claim(worker_id, limit, Success(job_id, result))
        if recorded and batch_id is not None:
            with self.engine.begin() as conn:
                owner = conn.execute(q.owner_of(job_id)).scalar_one()
                now = self.clock()
                self._batch_progress(conn, owner, job_id, batch_id, JobState.SUCCEEDED, now)
        return recorded, [ClaimedJob(*row) for row in rows]

    def canceled(self, job_id: UUID, worker_id: str) -> bool:
        """The worker stopped a running job on request."""
        return self._finish(job_id, worker_id, "canceled", {}, {"state": JobState.CANCELED})

    def release(self, job_id: UUID, worker_id: str) -> bool:
        """Hand a job back on graceful shutdown; the attempt it used is given back too."""
        values = {
            "state": JobState.QUEUED, "worker_id": None, "attempts": q.jobs.c.attempts - 1,
            "run_after": self.clock(), "finished_at": None,
        }  # fmt: skip
        return self._finish(job_id, worker_id, "requeued", {"reason": "shutting down"}, values)

    def fail(
        self,
        job_id: UUID,
        worker_id: str,
        error_class: ErrorClass,
        message: str,
        stage: str | None,
        attempts: int,
        max_attempts: int,
        *,
        detail: str | None = None,
    ) -> RetryDecision | None:
        """Retry or fail the job as the error class says; None if the job was not ours.
        `detail` (e.g. ffmpeg's stderr tail) is kept on the job (`result.error_detail`) and
        in its event, for whoever investigates."""
        decision = decide(error_class, attempts)
        retry = decision.retry and attempts < max_attempts
        error: dict[str, Any] = {
            "error_class": error_class, "error_message": message, "error_stage": stage,
        }  # fmt: skip
        event: dict[str, Any] = {**error, "attempt": attempts}
        if detail is not None:
            error["result"] = {"error_detail": detail}
            event["error_detail"] = detail
        if retry:
            values = {
                **error, "state": JobState.QUEUED, "worker_id": None, "finished_at": None,
                "run_after": self.clock() + timedelta(seconds=decision.delay_s),
            }  # fmt: skip
            event["delay_s"] = round(decision.delay_s, 2)
            done = self._finish(job_id, worker_id, "retrying", event, values)
        else:
            values = {**error, "state": JobState.FAILED}
            done = self._finish(job_id, worker_id, "failed", event, values)
        if done and decision.notify_admins:
            self._notify_admins(job_id, message, stage)
        return RetryDecision(retry, decision.delay_s, decision.notify_admins) if done else None

    def _finish(
        self, job_id: UUID, worker_id: str, event: str, data: dict[str, Any], values: dict[str, Any]
    ) -> bool:
        """Move a job this worker holds out of `running`, with `values` for its columns."""
        now = self.clock()
        values = {"finished_at": now, **values}
        with self.engine.begin() as conn:
            row = conn.execute(q.finish(job_id, worker_id, values)).first()
            if row is None:
                return False
            conn.execute(q.append_event(row.owner_id, job_id, event, data, now))
            fact = OUTCOME_FACTS.get(values["state"])
            if fact is not None and row.kind == RENDER_KIND:
                cost = (values.get("result") or {}).get("cost_usd")
                conn.execute(q.append_fact(fact, row.owner_id, job_id, row.plan, now, cost))
            if row.batch_id is not None and values.get("state") in FINAL_STATES:
                self._batch_progress(conn, row.owner_id, job_id, row.batch_id, values["state"], now)
        if values.get("state") == JobState.QUEUED:
            self._woken()
        return True

    def _batch_progress(
        self, conn: Connection, owner: UUID, job_id: UUID, batch_id: str, state: JobState,
        now: datetime,
    ) -> None:  # fmt: skip
        """A row of a batch finished: its owner's `batch_progress` event, with the batch's
        rows by status (what a batch page shows without reading the batch again)."""
        counts = {s.value: 0 for s in JobState}
        for found, rows in conn.execute(q.batch_counts(UUID(batch_id))):
            counts[JobState(found).value] = int(rows)
        data = {
            "batch_id": batch_id, "status": JobState(state).value, "counts": counts,
            "total": sum(counts.values()),
            "done": sum(counts[s.value] for s in FINAL_STATES),
        }  # fmt: skip
        conn.execute(q.append_event(owner, job_id, "batch_progress", data, now))

    def _notify_admins(self, job_id: UUID, message: str, stage: str | None) -> None:
        """A system error: an event for every admin, then the optional alert hook."""
        with Session(self.engine) as session, session.begin():
            now = self.clock()
            for admin in session.query(User).filter(User.is_admin.is_(True)):
                session.execute(
                    q.append_event(
                        admin.id, job_id, "system_error", {"message": message, "stage": stage}, now
                    )
                )
        if self.on_system_error is not None:
            self.on_system_error(job_id, message, stage)

    # -- from outside ----------------------------------------------------------------------

    def cancel(
        self, job_id: UUID, owner_id: UUID, session: Session | None = None
    ) -> JobState | None:
        """Cancel a queued job now, or ask a running one's worker to stop; in the caller's
        transaction when `session` is given (the caller commits), else in its own.

        Returns the job's state before, or None if the owner has no such live job.
        """
        if session is not None:
            return self._cancel(session.connection(), job_id, owner_id)
        with self.engine.begin() as conn:
            return self._cancel(conn, job_id, owner_id)

    def _cancel(self, conn: Connection, job_id: UUID, owner_id: UUID) -> JobState | None:
        now = self.clock()
        row = conn.execute(q.request_cancel(job_id, owner_id)).first()
        if row is None:
            return None
        state = JobState(row.state)
        if state is JobState.QUEUED:
            conn.execute(q.cancel_queued(job_id, now))
            conn.execute(q.append_event(owner_id, job_id, "canceled", {}, now))
            batch_id = conn.execute(q.batch_of(job_id)).scalar()
            if batch_id is not None:
                self._batch_progress(conn, owner_id, job_id, batch_id, JobState.CANCELED, now)
        return state

    def queue_position(self, session: Session, job_id: UUID) -> int | None:
        """Where a queued job stands in line by the scheduling policy (1 = next), in the
        caller's session; None if it is not queued (see `jobs/position.py`)."""
        return queue_position(
            session.connection(), job_id, self.policy, self.clock(), CANDIDATES_PER_CLAIM
        )

    def reap(self, stale_after_s: float) -> list[Reaped]:
        """Requeue running jobs whose worker stopped heartbeating (it died, or hung), or fail
        them as a system error (naming the stage they were in, admins alerted) when that was
        their last allowed attempt: a job that kills its worker cannot loop forever."""
        reaped: list[Reaped] = []
        with self._begin() as conn, conn.begin():
            now = self.clock()
            stale = conn.execute(q.stale_running(now - timedelta(seconds=stale_after_s))).all()
            for row in stale:
                reason = f"worker {row.worker_id} stopped responding"
                if row.attempts >= row.max_attempts:
                    message = (
                        f"{reason} during attempt {row.attempts} of {row.max_attempts}; "
                        "no attempts left"
                    )
                    error = {"error_class": ErrorClass.SYSTEM, "error_message": message,
                             "error_stage": row.stage}  # fmt: skip
                    conn.execute(q.fail_stale(row.id, now, error))
                    data = {**error, "attempt": row.attempts}
                    conn.execute(q.append_event(row.owner_id, row.id, "failed", data, now))
                    if row.kind == RENDER_KIND:
                        fact = q.append_fact(
                            Fact.RENDER_FAILED, row.owner_id, row.id, row.plan, now, None
                        )
                        conn.execute(fact)
                    if row.batch_id is not None:  # the batch page waits for this row too
                        self._batch_progress(
                            conn, row.owner_id, row.id, row.batch_id, JobState.FAILED, now
                        )
                    reaped.append(Reaped(row.id, failed=True, message=message, stage=row.stage))
                else:
                    conn.execute(q.requeue(row.id, now))
                    data = {"reason": reason, "attempt": row.attempts}
                    conn.execute(q.append_event(row.owner_id, row.id, "requeued", data, now))
                    reaped.append(Reaped(row.id, failed=False, message=reason, stage=row.stage))
        if any(not r.failed for r in reaped):
            self._woken()
        for job in reaped:
            if job.failed:
                self._notify_admins(job.id, job.message, job.stage)
        return reaped

    def _woken(self) -> None:
        """Jobs became claimable: wake in-process workers, drop rankings read before."""
        if self._pg is not None:
            self._pg.forget()
        self.wakeup.set()
