"""The two queues the benchmark drives, behind one `QueueSystem` protocol: each gets a
fresh database, enqueues through its public API and runs its workers in spawned processes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier, Event
from typing import Any, Protocol

import procrastinate
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from reelforge.db.migrate import upgrade
from reelforge.db.models import User
from reelforge.db.session import make_engine, session_factory
from reelforge.jobs.kinds import JobRunner
from reelforge.jobs.manager import JobManager, NewJob
from reelforge.jobs.testing import noop, sleep
from reelforge.jobs.worker import Worker, WorkerTimings
from reelforge.model.plans import Plan

USERS = 50
"""Enterprise users (limit 8 each) the no-op jobs are spread over, so limits never throttle."""
KINDS: dict[str, JobRunner] = {"noop": noop, "sleep": sleep}


def log(message: str) -> None:
    print(f"[queue {time.strftime('%H:%M:%S')}] {message}", flush=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- what both queues provide -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobTimes:
    """One succeeded job as its own rows tell it (the truth, not the benchmark's clock)."""

    user: str
    enqueued: dt.datetime
    started: dt.datetime
    finished: dt.datetime
    starts: int
    """How many times a worker started it: above 1, the queue ran a job twice."""


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a spawned worker process needs (picklable)."""

    system: str
    url: str
    timings: WorkerTimings | None = None


class QueueSystem(Protocol):
    name: str
    url: str
    tables: tuple[str, ...]
    """The queue's tables, parents first: emptied, saved and restored between runs."""
    unfinished_sql: str

    def sql(self, *statements: str) -> list[Any]:
        """Run `statements` in one transaction; the last one's rows."""

    def reset(self) -> None:
        """Empty the queue, so every run starts from the same state."""

    def enqueue(self, count: int, *, batched: bool, pause_s: float = 0.0) -> float:
        """Add `count` no-op jobs through the public API; seconds spent (pauses excluded)."""

    def timeline(self) -> list[JobTimes]: ...

    def worker_spec(self, timings: WorkerTimings | None) -> WorkerSpec: ...


class SqlAlchemyRunner:
    """`sql()` for a queue system, over one SQLAlchemy engine."""

    engine: Engine

    def sql(self, *statements: str) -> list[Any]:
        with self.engine.begin() as conn:
            rows: list[Any] = []
            for statement in statements:
                result = conn.execute(text(statement))
                rows = list(result.all()) if result.returns_rows else []
            return rows

    def close(self) -> None:
        self.engine.dispose()


def save_queue(system: QueueSystem) -> None:
    """Keep a copy of the freshly enqueued jobs: each run restores it instead of re-enqueueing
    (10 000 jobs through reelforge's API take ~10 s; the copy is the same rows)."""
    system.sql(*(f"CREATE TABLE saved_{t} AS TABLE {t}" for t in system.tables))


def restore_queue(system: QueueSystem) -> None:
    """Empty the queue and put the saved jobs back, triggers off (the rows already hold what
    they did), then refresh planner statistics as autovacuum would a minute later."""
    system.reset()
    copies = (f"INSERT INTO {t} SELECT * FROM saved_{t}" for t in system.tables)
    system.sql("SET LOCAL session_replication_role = replica", *copies)
    analyze(system)


def analyze(system: QueueSystem) -> None:
    system.sql(f"ANALYZE {', '.join(system.tables)}")


def unfinished(system: QueueSystem) -> int:
    return int(system.sql(system.unfinished_sql)[0][0])


# -- reelforge --------------------------------------------------------------------------------


class ReelforgeQueue(SqlAlchemyRunner):
    """reelforge's `JobManager` on a freshly migrated database, with users to spread jobs over."""

    name = "reelforge"
    tables: tuple[str, ...] = ("render_jobs", "events")
    unfinished_sql = "SELECT count(*) FROM render_jobs WHERE state IN ('queued', 'running')"

    def __init__(self, url: str) -> None:
        self.url = url
        upgrade(url)
        self.engine = make_engine(url)
        self.sessions = session_factory(self.engine)
        self.manager = JobManager(self.engine)
        self.users = self.add_users(Plan.ENTERPRISE, USERS)

    def add_users(self, plan: Plan, count: int) -> list[User]:
        """Users named `<plan>-<n>` (the name labels them in the fairness table)."""
        with self.sessions.begin() as session:
            users = [
                User(email=f"{plan}-{i}-{uuid.uuid4().hex[:6]}@bench.invalid", name=f"{plan}-{i}",
                     plan=plan)
                for i in range(1, count + 1)
            ]  # fmt: skip
            session.add_all(users)
        return users

    def reset(self) -> None:
        self.sql("TRUNCATE render_jobs, events CASCADE", "UPDATE users SET last_claimed_at = NULL")

    def enqueue(self, count: int, *, batched: bool, pause_s: float = 0.0) -> float:
        owners = [self.users[i % len(self.users)] for i in range(count)]
        return self.enqueue_for(owners, "noop", {}, batched=batched, pause_s=pause_s)

    def enqueue_for(
        self,
        owners: Sequence[User],
        kind: str,
        payload: dict[str, Any],
        *,
        batched: bool,
        pause_s: float = 0.0,
    ) -> float:
        """One job per entry of `owners`, in that order: `JobManager.enqueue` one transaction
        each, or all in one with `JobManager.enqueue_many` (the bulk API, as procrastinate's
        `batch_defer_async`)."""
        started = time.perf_counter()
        if batched:
            with self.sessions.begin() as session:
                jobs = [NewJob(owner, kind=kind, payload=payload) for owner in owners]
                self.manager.enqueue_many(session, jobs)
            return time.perf_counter() - started
        for owner in owners:
            with self.sessions.begin() as session:
                self.manager.enqueue(session, owner, kind=kind, payload=payload)
            time.sleep(pause_s)
        return time.perf_counter() - started - pause_s * len(owners)

    def running_by_user(self) -> dict[str, int]:
        """Running jobs per user right now, as the database sees them."""
        rows = self.sql(
            "SELECT u.name, count(*) FROM render_jobs j JOIN users u ON u.id = j.owner_id "
            "WHERE j.state = 'running' GROUP BY u.name"
        )
        return {str(name): int(n) for name, n in rows}

    def timeline(self) -> list[JobTimes]:
        rows = self.sql(
            """
            SELECT u.name, j.enqueued_at, j.started_at, j.finished_at, count(*)
            FROM render_jobs j JOIN users u ON u.id = j.owner_id
            JOIN events e ON e.job_id = j.id AND e.type = 'started'
            WHERE j.state = 'succeeded' GROUP BY j.id, u.name
            """
        )
        return [JobTimes(*row) for row in rows]

    def worker_spec(self, timings: WorkerTimings | None) -> WorkerSpec:
        return WorkerSpec(self.name, self.url, timings)


def reelforge_worker(spec: WorkerSpec, ready: Barrier, go: Event, done: Event) -> None:
    """One `Worker` (one job at a time), stopped gracefully once the parent says done."""
    engine = make_engine(spec.url)
    worker = Worker(JobManager(engine), KINDS, timings=spec.timings)
    with engine.connect():
        pass  # the pool's first connection is made before the clock starts
    ready.wait()
    go.wait()
    threading.Thread(target=_stop_when, args=(done, worker), daemon=True).start()
    worker.run()
    engine.dispose()


def _stop_when(done: Event, worker: Worker) -> None:
    done.wait()
    worker.stop()


# -- procrastinate ----------------------------------------------------------------------------


async def procrastinate_noop() -> None:
    """The no-op task: all that is measured is procrastinate's own cost per job."""


def procrastinate_app(url: str) -> procrastinate.App:
    """An app with default settings. The task is registered by a fixed name in every process,
    so procrastinate's warning about apps defined in `__main__` does not apply: silenced."""
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    app.task(name="noop")(procrastinate_noop)
    return app


class ProcrastinateQueue(SqlAlchemyRunner):
    """procrastinate 3 on its own database, through its documented async API."""

    name = "procrastinate"
    tables: tuple[str, ...] = ("procrastinate_jobs", "procrastinate_events")
    unfinished_sql = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        asyncio.run(self._apply_schema())

    async def _apply_schema(self) -> None:
        app = procrastinate_app(self.url)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    def reset(self) -> None:
        self.sql(f"TRUNCATE {', '.join(self.tables)} CASCADE")

    def enqueue(self, count: int, *, batched: bool, pause_s: float = 0.0) -> float:
        return asyncio.run(self._enqueue(count, batched, pause_s))

    async def _enqueue(self, count: int, batched: bool, pause_s: float) -> float:
        app = procrastinate_app(self.url)
        async with app.open_async():
            task = app.tasks["noop"]
            started = time.perf_counter()
            if batched:
                await task.batch_defer_async(*({} for _ in range(count)))
                return time.perf_counter() - started
            for _ in range(count):
                await task.defer_async()
                await asyncio.sleep(pause_s)
            return time.perf_counter() - started - pause_s * count

    def timeline(self) -> list[JobTimes]:
        rows = self.sql(
            """
            SELECT 'queue', min(e.at) FILTER (WHERE e.type = 'deferred'),
                   min(e.at) FILTER (WHERE e.type = 'started'),
                   max(e.at) FILTER (WHERE e.type = 'succeeded'),
                   count(*) FILTER (WHERE e.type = 'started')
            FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
            WHERE j.status = 'succeeded' GROUP BY j.id
            """
        )
        return [JobTimes(*row) for row in rows]

    def worker_spec(self, timings: WorkerTimings | None) -> WorkerSpec:
        """procrastinate's workers keep their own defaults: `timings` are reelforge's."""
        return WorkerSpec(self.name, self.url)


def procrastinate_worker(spec: WorkerSpec, ready: Barrier, go: Event, done: Event) -> None:
    asyncio.run(_procrastinate_worker(spec, ready, go, done))


async def _procrastinate_worker(spec: WorkerSpec, ready: Barrier, go: Event, done: Event) -> None:
    """`run_worker_async()` with its defaults; cancelling it is procrastinate's graceful stop."""
    app = procrastinate_app(spec.url)
    async with app.open_async():
        await asyncio.to_thread(ready.wait)
        await asyncio.to_thread(go.wait)
        running = asyncio.create_task(app.run_worker_async())
        await asyncio.to_thread(done.wait)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


WORKER_MAINS: dict[str, Callable[[WorkerSpec, Barrier, Event, Event], None]] = {
    ReelforgeQueue.name: reelforge_worker,
    ProcrastinateQueue.name: procrastinate_worker,
}


def worker_main(spec: WorkerSpec, ready: Barrier, go: Event, done: Event) -> None:
    WORKER_MAINS[spec.system](spec, ready, go, done)
