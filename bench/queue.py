"""Queue benchmark (`make bench`): throughput, wake-up latency and fairness of the render queue
on PostgreSQL, with procrastinate on the same server as the yardstick.

Why each figure: no-op jobs expose the queue's own cost per job (claim, start, finish, events);
the enqueue→start latency with an idle worker shows whether LISTEN/NOTIFY wakes it; the
contention run checks the scheduling policy's promises (equal users get equal shares, nobody
exceeds their plan's concurrency, waits stay bounded). Each system gets its own fresh, uniquely
named database, created and dropped here. Worker processes are spawned and connected before the
clock starts; all times come from the job rows. Bounded to about 6 minutes on 2 cores (a run
that cannot drain its jobs in `RUN_CAP_S` is cut and reported as partial). Results go to
bench/results/queue.json and the "## Queue" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import platform
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any, Protocol

import procrastinate
import psutil
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.measure import system_busy_s
from bench.report import RESULTS_MD, cpu_model, mark, markdown_table, replace_section
from reelforge.db.migrate import upgrade
from reelforge.db.models import Plan, User
from reelforge.db.session import make_engine, session_factory
from reelforge.jobs.kinds import JobRunner, noop, sleep
from reelforge.jobs.manager import JobManager
from reelforge.jobs.policy import SchedulingPolicy
from reelforge.jobs.stats import percentile
from reelforge.jobs.worker import Worker, WorkerTimings

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results" / "queue.json"
SECTION = "## Queue"
PG_SERVER = os.environ.get("REELFORGE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")

JOBS = 10_000
ONE_BY_ONE_JOBS = 1_000
"""Enqueueing one job per transaction is round-trip bound: 1 000 give a stable rate."""
USERS = 50
"""Enterprise users (limit 8 each) the no-op jobs are spread over, so limits never throttle."""
WORKER_COUNTS = (1, 2, 4, 8)
PROCRASTINATE_WORKER_COUNTS = (1, 4)
TARGET_WORKERS = 4
LATENCY_JOBS = 200
LATENCY_PAUSE_S = 0.04
"""Between enqueues: the single worker is idle again (waiting on LISTEN) when each job arrives."""
FREE_USERS = 3
JOBS_PER_USER = 50
SLEEP_S = 0.05
FAIRNESS_WORKERS = 4
SLICES = 10

THROUGHPUT_TIMINGS = WorkerTimings(heartbeat_s=0.2, poll_s=0.05)
LATENCY_TIMINGS = WorkerTimings(heartbeat_s=0.2)
"""`poll_s` stays at its 1 s default: a prompt start can only come from NOTIFY."""
KINDS: dict[str, JobRunner] = {"noop": noop, "sleep": sleep}

THROUGHPUT_TARGET = 1_000.0
LATENCY_P99_TARGET_MS = 50.0
JAIN_TARGET = 0.95
STAMP_SKEW_S = 0.005
"""Row timestamps are taken when the claim and finish transactions begin, not when they commit:
a next start stamped up to one short transaction before the previous finish is the clock."""

DRAIN_POLL_S = 0.05
RUN_CAP_S = 60.0
"""A throughput run still draining after this is stopped and reported as partial (the time
bound of the whole benchmark)."""
RUN_TIMEOUT_S = 120.0
"""Latency and fairness runs must finish: past this the benchmark fails instead of hanging."""
QUIET_LOAD = 1.5
QUIET_WAIT_S = 300.0


def log(message: str) -> None:
    print(f"[queue {time.strftime('%H:%M:%S')}] {message}", flush=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A uniquely named database on the server, dropped afterwards whatever happens."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


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
        self.sql("TRUNCATE render_jobs, events", "UPDATE users SET last_claimed_at = NULL")

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
        """One job per entry of `owners`, in that order, with `JobManager.enqueue`."""
        started = time.perf_counter()
        if batched:
            with self.sessions.begin() as session:
                for owner in owners:
                    self.manager.enqueue(session, owner, kind=kind, payload=payload)
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


# -- running worker processes -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuSplit:
    """CPU seconds over a run: the worker processes, their PostgreSQL backends, everyone else."""

    workers_s: float
    postgres_s: float
    other_s: float


class Fleet:
    """Spawned worker processes, all set up, released at once by `go` (the clock's start)."""

    def __init__(self, system: QueueSystem, count: int, timings: WorkerTimings | None) -> None:
        ctx = mp.get_context("spawn")
        self.system = system
        self.ready = ctx.Barrier(count + 1)
        self.go = ctx.Event()
        self.done = ctx.Event()
        args = (system.worker_spec(timings), self.ready, self.go, self.done)
        self.processes = [ctx.Process(target=worker_main, args=args) for _ in range(count)]
        self.started_at = utcnow()
        self._cpu_start = (0.0, 0.0, 0.0)

    def start(self) -> None:
        for process in self.processes:
            process.start()
        self.ready.wait(timeout=60)
        self._cpu_start = self._cpu_now()
        self.started_at = utcnow()
        self.go.set()

    def wait_drained(self, limit_s: float) -> bool:
        """Until no job is queued or running (workers keep waiting for more); False on timeout."""
        deadline = time.monotonic() + limit_s
        while unfinished(self.system) > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(DRAIN_POLL_S)
        return True

    def cpu(self) -> CpuSplit:
        """CPU used since `go` (call before `stop`: the processes must still exist)."""
        workers, backends, busy = (
            b - a for a, b in zip(self._cpu_start, self._cpu_now(), strict=True)
        )
        return CpuSplit(workers, backends, max(0.0, busy - workers - backends))

    def _cpu_now(self) -> tuple[float, float, float]:
        pids = [p.pid for p in self.processes if p.pid is not None]
        dbname = str(make_url(self.system.url).database)
        return (
            _cpu_of(psutil.Process(pid) for pid in pids),
            _cpu_of(_backends(dbname)),
            system_busy_s(),
        )

    def stop(self) -> None:
        self.done.set()
        for process in (p for p in self.processes if p.pid is not None):
            process.join(timeout=40)
            if process.is_alive():
                process.terminate()
                process.join()


def _backends(dbname: str) -> Iterator[psutil.Process]:
    """PostgreSQL backend processes serving `dbname` (their process title names it)."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(proc.info["cmdline"] or ())
        if proc.info["name"] == "postgres" and f" {dbname} " in title:
            yield proc


def _cpu_of(processes: Iterator[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            cpu = proc.cpu_times()
            total += cpu.user + cpu.system
    return total


@contextlib.contextmanager
def running_fleet(
    system: QueueSystem, count: int, timings: WorkerTimings | None = None
) -> Iterator[Fleet]:
    fleet = Fleet(system, count, timings)
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.stop()


def run_to_completion(fleet: Fleet, what: str) -> None:
    if not fleet.wait_drained(RUN_TIMEOUT_S):
        raise TimeoutError(f"{fleet.system.name}: {what} not done in {RUN_TIMEOUT_S:.0f} s")


def check_ran_once(system: QueueSystem, times: list[JobTimes], expected: int) -> int:
    """Jobs started more than once; raises if some job did not succeed (a broken queue)."""
    if len(times) != expected:
        raise RuntimeError(f"{system.name}: {len(times)} of {expected} jobs succeeded")
    return sum(t.starts > 1 for t in times)


# -- throughput and latency -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Throughput:
    system: str
    workers: int
    jobs: int
    """Jobs done: all queued ones, or fewer if the run hit `RUN_CAP_S` (`partial`)."""
    queued: int
    wall_s: float
    jobs_per_s: float
    worker_cpu_ms_per_job: float
    postgres_cpu_ms_per_job: float
    other_cpu_share: float
    """Share of the CPUs other processes used meanwhile: above ~15 %, the figure is noisy."""
    ran_twice: int
    partial: bool


@dataclass(frozen=True, slots=True)
class Enqueue:
    system: str
    one_by_one_per_s: float
    one_by_one_jobs: int
    batched_per_s: float
    batched_jobs: int


@dataclass(frozen=True, slots=True)
class Latency:
    system: str
    jobs: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def measure_enqueue(system: QueueSystem, jobs: int) -> Enqueue:
    """One job per transaction, then `jobs` in one; the latter stay queued (and are saved) for
    the throughput runs."""
    system.reset()
    one_by_one = ONE_BY_ONE_JOBS / system.enqueue(ONE_BY_ONE_JOBS, batched=False)
    system.reset()
    batched = jobs / system.enqueue(jobs, batched=True)
    save_queue(system)
    log(f"{system.name}: enqueue {one_by_one:,.0f} jobs/s one by one, {batched:,.0f} batched")
    return Enqueue(system.name, one_by_one, ONE_BY_ONE_JOBS, batched, jobs)


def measure_throughput(system: QueueSystem, workers: int, queued: int) -> Throughput:
    """Drain the saved `queued` no-op jobs with `workers` processes: jobs / (last finish − go)."""
    restore_queue(system)
    with running_fleet(system, workers, THROUGHPUT_TIMINGS) as fleet:
        drained = fleet.wait_drained(RUN_CAP_S)
        cpu = fleet.cpu()
    times = system.timeline()
    jobs = len(times)
    wall_s = (max(t.finished for t in times) - fleet.started_at).total_seconds()
    result = Throughput(
        system=system.name, workers=workers, jobs=jobs, queued=queued, wall_s=wall_s,
        jobs_per_s=jobs / wall_s, worker_cpu_ms_per_job=1000 * cpu.workers_s / jobs,
        postgres_cpu_ms_per_job=1000 * cpu.postgres_s / jobs,
        other_cpu_share=cpu.other_s / (wall_s * len(os.sched_getaffinity(0))),
        ran_twice=check_ran_once(system, times, queued) if drained else 0, partial=not drained,
    )  # fmt: skip
    log(
        f"{system.name} x{workers}: {result.jobs_per_s:,.0f} jobs/s ({jobs} jobs in "
        f"{wall_s:.1f} s{', cut: partial' if not drained else ''}); CPU per job "
        f"{result.worker_cpu_ms_per_job:.2f} ms workers + {result.postgres_cpu_ms_per_job:.2f} ms "
        f"PostgreSQL; other processes {result.other_cpu_share:.0%} of the CPUs"
    )
    return result


def measure_latency(system: QueueSystem, timings: WorkerTimings | None) -> Latency:
    """One idle worker; jobs arrive one at a time; latency = start − enqueue, from the rows."""
    system.reset()
    with running_fleet(system, 1, timings) as fleet:
        time.sleep(0.5)  # the worker reaches its idle wait
        system.enqueue(LATENCY_JOBS, batched=False, pause_s=LATENCY_PAUSE_S)
        run_to_completion(fleet, "latency jobs")
    times = system.timeline()
    check_ran_once(system, times, LATENCY_JOBS)
    delays = [(t.started - t.enqueued).total_seconds() * 1000 for t in times]
    result = Latency(
        system=system.name, jobs=len(delays), p50_ms=_pct(delays, 0.50),
        p95_ms=_pct(delays, 0.95), p99_ms=_pct(delays, 0.99), max_ms=max(delays),
    )  # fmt: skip
    log(
        f"{system.name}: enqueue→start p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms"
    )
    return result


def _pct(values: list[float], share: float) -> float:
    found = percentile(values, share)
    assert found is not None
    return found


# -- fairness -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fairness:
    users: list[str]
    limits: dict[str, int]
    slices: list[dict[str, int]]
    """Jobs started per user in each tenth of the run."""
    wall_s: float
    backlog_window_s: float
    """From the first start until one free user had nothing left queued."""
    free_service_s: dict[str, float]
    """Running time each free user got inside the backlog window."""
    jain_free: float
    jain_free_total: float
    max_free_wait_s: float
    max_free_wait_bound_s: float
    waits_within_bound: bool
    limit_violations: int
    """Starts that put a user over their plan's limit, from the rows' running intervals."""
    max_overrun_ms: float
    """The longest such overlap."""
    snapshot_violations: int
    """Samples of the database's running count per user that showed a user over the limit."""
    snapshots: int
    ran_twice: int


def jain(values: Sequence[float]) -> float:
    """Jain's fairness index: 1 when all are equal, 1/n when one gets everything."""
    total, squares = sum(values), sum(v * v for v in values)
    return total * total / (len(values) * squares) if squares else 1.0


def start_slices(times: list[JobTimes], users: list[str], slices: int) -> list[dict[str, int]]:
    begin = min(t.started for t in times)
    span = (max(t.finished for t in times) - begin).total_seconds()
    counts = [dict.fromkeys(users, 0) for _ in range(slices)]
    for t in times:
        index = min(int((t.started - begin).total_seconds() / span * slices), slices - 1)
        counts[index][t.user] += 1
    return counts


def service_in(times: list[JobTimes], user: str, lo: dt.datetime, hi: dt.datetime) -> float:
    """Seconds of `user`'s jobs running inside [lo, hi]."""
    return sum(
        max(0.0, (min(t.finished, hi) - max(t.started, lo)).total_seconds())
        for t in times
        if t.user == user
    )


def limit_overruns(times: list[JobTimes], limits: dict[str, int]) -> list[float]:
    """Seconds each user spent above their limit per the rows, one entry per offending start
    (a sweep over start/finish edges; at equal times the finish counts first)."""
    edges: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for t in times:
        edges[t.user] += [(t.started, 1), (t.finished, -1)]
    overruns: list[float] = []
    for user, steps in edges.items():
        running, over_since = 0, None
        for at, step in sorted(steps):
            running += step
            if step > 0 and running > limits[user]:
                over_since = over_since or at
            elif over_since is not None and running <= limits[user]:
                overruns.append((at - over_since).total_seconds())
                over_since = None
    return overruns


def wait_bound_s(times: list[JobTimes], job: JobTimes, policy: SchedulingPolicy) -> float:
    """2 × ageing_s plus the jobs already ahead: the user's own earlier jobs one after another,
    everyone else's earlier jobs shared over the workers."""
    earlier = [t for t in times if t.enqueued < job.enqueued]
    own = sum((t.finished - t.started).total_seconds() for t in earlier if t.user == job.user)
    others = sum((t.finished - t.started).total_seconds() for t in earlier if t.user != job.user)
    return 2 * policy.ageing_s + own + others / FAIRNESS_WORKERS


class LimitSampler:
    """Polls the database's running count per user during a run: the direct limit check."""

    def __init__(self, queue: ReelforgeQueue, limits: dict[str, int]) -> None:
        self.queue, self.limits = queue, limits
        self.samples = self.violations = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            running = self.queue.running_by_user()
            self.samples += 1
            self.violations += any(n > self.limits.get(u, 0) for u, n in running.items())

    def __enter__(self) -> LimitSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def measure_fairness(queue: ReelforgeQueue) -> Fairness:
    """3 free users and 1 pro user, 50 sleep jobs each, queued user after user (FIFO's worst
    case), drained by 4 workers under the default policy."""
    queue.reset()
    policy = queue.manager.policy
    contenders = [*queue.add_users(Plan.FREE, FREE_USERS), *queue.add_users(Plan.PRO, 1)]
    limits = {u.name: policy.concurrency[Plan(u.plan)] for u in contenders}
    owners = [user for user in contenders for _ in range(JOBS_PER_USER)]
    queue.enqueue_for(owners, "sleep", {"seconds": SLEEP_S}, batched=True)
    analyze(queue)
    sampler = LimitSampler(queue, limits)
    with running_fleet(queue, FAIRNESS_WORKERS, THROUGHPUT_TIMINGS) as fleet, sampler:
        run_to_completion(fleet, "fairness jobs")
    times = queue.timeline()
    check_ran_once(queue, times, len(owners))
    free = [u.name for u in contenders if u.plan == Plan.FREE]
    result = summarize_fairness(times, list(limits), free, limits, policy, sampler)
    log(
        f"fairness: Jain {result.jain_free:.3f} among free users (backlogged "
        f"{result.backlog_window_s:.1f} s), max free wait {result.max_free_wait_s:.1f} s, "
        f"limit overruns {result.limit_violations} in rows (longest {result.max_overrun_ms:.1f} "
        f"ms), {result.snapshot_violations} of {result.snapshots} database samples"
    )
    return result


def summarize_fairness(
    times: list[JobTimes],
    users: list[str],
    free: list[str],
    limits: dict[str, int],
    policy: SchedulingPolicy,
    sampler: LimitSampler,
) -> Fairness:
    begin, end = min(t.started for t in times), max(t.finished for t in times)
    window_end = min(max(t.started for t in times if t.user == u) for u in free)
    service = {u: service_in(times, u, begin, window_end) for u in free}
    free_jobs = [t for t in times if t.user in free]
    worst = max(free_jobs, key=lambda t: t.started - t.enqueued)
    overruns = limit_overruns(times, limits)
    return Fairness(
        users=users, limits=limits, slices=start_slices(times, users, SLICES),
        wall_s=(end - begin).total_seconds(), backlog_window_s=(window_end - begin).total_seconds(),
        free_service_s=service, jain_free=jain(list(service.values())),
        jain_free_total=jain([service_in(times, u, begin, end) for u in free]),
        max_free_wait_s=(worst.started - worst.enqueued).total_seconds(),
        max_free_wait_bound_s=wait_bound_s(times, worst, policy),
        waits_within_bound=all(
            (t.started - t.enqueued).total_seconds() <= wait_bound_s(times, t, policy)
            for t in free_jobs
        ),
        limit_violations=len(overruns), max_overrun_ms=1000 * max(overruns, default=0.0),
        snapshot_violations=sampler.violations, snapshots=sampler.samples,
        ran_twice=sum(t.starts > 1 for t in times),
    )  # fmt: skip


# -- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemResults:
    enqueue: Enqueue
    throughput: list[Throughput]
    latency: Latency

    def at(self, workers: int) -> Throughput | None:
        return next((t for t in self.throughput if t.workers == workers), None)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    measured: str
    ok: bool
    noisy: bool = False

    @property
    def mark(self) -> str:
        return mark(self.ok, self.noisy)


@dataclass(frozen=True, slots=True)
class Results:
    machine: dict[str, str]
    reelforge: SystemResults
    procrastinate: SystemResults
    fairness: Fairness
    targets: list[Target] = field(default_factory=list)


def run_system(
    system: QueueSystem, workers: Sequence[int], jobs: int, latency_timings: WorkerTimings | None
) -> SystemResults:
    """The same measurements for either queue: enqueue rates, throughput, wake-up latency."""
    enqueue = measure_enqueue(system, jobs)
    throughput = [measure_throughput(system, n, jobs) for n in workers]
    return SystemResults(enqueue, throughput, measure_latency(system, latency_timings))


def run_reelforge(jobs: int) -> tuple[SystemResults, Fairness]:
    with fresh_database("reelforge_bench") as url:
        queue = ReelforgeQueue(url)
        try:
            return run_system(queue, WORKER_COUNTS, jobs, LATENCY_TIMINGS), measure_fairness(queue)
        finally:
            queue.close()


def run_procrastinate(jobs: int) -> SystemResults:
    with fresh_database("procrastinate_bench") as url:
        queue = ProcrastinateQueue(url)
        try:
            return run_system(queue, PROCRASTINATE_WORKER_COUNTS, jobs, None)
        finally:
            queue.close()


def wait_for_quiet_load() -> float:
    """Other engineers benchmark on this machine too: wait (bounded) for a low load average."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while (load := os.getloadavg()[0]) >= QUIET_LOAD and time.monotonic() < deadline:
        log(f"load average {load:.2f} ≥ {QUIET_LOAD}: waiting for a quiet machine")
        time.sleep(15)
    return load


def machine_facts(load: float) -> dict[str, str]:
    """What the numbers depend on: CPUs, memory, server and library versions, load, when."""
    with create_engine(f"{PG_SERVER}/postgres").connect() as conn:
        server = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    return {
        "date": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "memory": f"{psutil.virtual_memory().total / 1024**3:.1f} GiB",
        "python": platform.python_version(),
        "postgresql": server,
        **{name: metadata.version(name) for name in ("procrastinate", "psycopg", "sqlalchemy")},
        "load_before": f"{load:.2f}",
    }


NOISY_SHARE = 0.15


def evaluate(ours: SystemResults, theirs: SystemResults, fair: Fairness) -> list[Target]:
    """The targets, each with the figure it was judged on."""
    mine, yard = ours.at(TARGET_WORKERS), theirs.at(TARGET_WORKERS)
    assert mine is not None and yard is not None
    noisy = max(mine.other_cpu_share, yard.other_cpu_share) > NOISY_SHARE or mine.partial
    ratio = mine.jobs_per_s / yard.jobs_per_s
    p99 = ours.latency.p99_ms
    wait = f"max {fair.max_free_wait_s:.1f} s (bound {fair.max_free_wait_bound_s:.0f} s)"
    limits = (
        f"{fair.snapshot_violations} of {fair.snapshots} database samples; "
        f"{fair.limit_violations} row overlaps (longest {fair.max_overrun_ms:.1f} ms)"
    )
    limits_ok = fair.snapshot_violations == 0 and fair.max_overrun_ms <= 1000 * STAMP_SKEW_S
    return [
        Target(
            f"≥ {THROUGHPUT_TARGET:,.0f} no-op jobs/s with {TARGET_WORKERS} workers",
            f"{mine.jobs_per_s:,.0f} jobs/s",
            mine.jobs_per_s >= THROUGHPUT_TARGET,
            noisy,
        ),
        Target(
            f"≥ procrastinate's throughput with {TARGET_WORKERS} workers",
            f"{ratio:.2f}x (procrastinate {yard.jobs_per_s:,.0f} jobs/s)",
            ratio >= 1.0,
            noisy,
        ),
        Target(
            f"enqueue→start p99 < {LATENCY_P99_TARGET_MS:.0f} ms",
            f"{p99:.1f} ms",
            p99 < LATENCY_P99_TARGET_MS,
        ),
        Target("free-job wait ≤ 2 × ageing_s + jobs ahead", wait, fair.waits_within_bound),
        Target(
            f"Jain's index ≥ {JAIN_TARGET} among the free users",
            f"{fair.jain_free:.3f}",
            fair.jain_free >= JAIN_TARGET,
        ),
        Target("zero per-user limit violations", limits, limits_ok),
    ]


# -- report ---------------------------------------------------------------------------------


def _throughput_row(run: Throughput) -> list[str]:
    cut = f" of {run.queued:,} (cut at {RUN_CAP_S:.0f} s)" if run.partial else ""
    return [
        run.system,
        str(run.workers),
        f"{run.jobs:,}{cut}",
        f"{run.wall_s:.1f} s",
        f"**{run.jobs_per_s:,.0f}**",
        f"{run.worker_cpu_ms_per_job:.2f} ms",
        f"{run.postgres_cpu_ms_per_job:.2f} ms",
        f"{run.other_cpu_share:.0%}",
        str(run.ran_twice),
    ]


def _jobs_per_s(results: SystemResults, workers: int) -> float:
    run = results.at(workers)
    return run.jobs_per_s if run else float("nan")


def _ratio_rows(results: Results) -> list[list[str]]:
    figures: list[tuple[str, Callable[[SystemResults], float]]] = [
        ("enqueue one job per transaction (jobs/s)", lambda r: r.enqueue.one_by_one_per_s),
        ("enqueue all in one transaction (jobs/s)", lambda r: r.enqueue.batched_per_s),
        *(
            (
                f"no-op throughput, {n} worker{'s' * (n > 1)} (jobs/s)",
                lambda r, n=n: _jobs_per_s(r, n),
            )
            for n in PROCRASTINATE_WORKER_COUNTS
        ),
        ("enqueue→start p50 (ms)", lambda r: r.latency.p50_ms),
        ("enqueue→start p99 (ms)", lambda r: r.latency.p99_ms),
    ]
    rows = []
    for what, figure in figures:
        ours, theirs = figure(results.reelforge), figure(results.procrastinate)
        rows.append([what, f"{ours:,.1f}", f"{theirs:,.1f}", f"{ours / theirs:.2f}x"])
    return rows


def _fairness_lines(fair: Fairness) -> list[str]:
    header = ["tenth of the run", *(f"{u} (limit {fair.limits[u]})" for u in fair.users)]
    rows = [[f"{i + 1}", *(str(s[u]) for u in fair.users)] for i, s in enumerate(fair.slices)]
    service = ", ".join(f"{u} {s:.2f} s" for u, s in fair.free_service_s.items())
    return [
        f"Jobs started per user in each tenth of the {fair.wall_s:.1f} s run "
        f"({JOBS_PER_USER} `sleep` jobs of {SLEEP_S} s each, queued user after user in this "
        f"order, {FAIRNESS_WORKERS} worker processes, default policy):",
        "",
        *markdown_table(header, rows),
        "",
        f"- Service while all free users were backlogged (first {fair.backlog_window_s:.1f} s): "
        f"{service}; Jain's index {fair.jain_free:.3f} (over the whole run: "
        f"{fair.jain_free_total:.3f}).",
        f"- Longest wait of a free job: {fair.max_free_wait_s:.1f} s; its bound "
        f"(2 × ageing_s + its own earlier jobs + others' earlier jobs ÷ {FAIRNESS_WORKERS} "
        f"workers): {fair.max_free_wait_bound_s:.0f} s; every free job within its bound: "
        f"{'yes' if fair.waits_within_bound else 'no'}.",
        f"- Per-user limit: {fair.snapshot_violations} of {fair.snapshots} samples of the "
        f"database's running jobs per user (every 10 ms) showed a user over their limit; the "
        f"rows' started_at/finished_at intervals overlap beyond a limit {fair.limit_violations} "
        f"time(s), longest {fair.max_overrun_ms:.1f} ms. Jobs run twice: {fair.ran_twice}.",
    ]


MEANING = (
    "Single runs. Both queues get the same server, the same spawned worker processes (set up "
    "and connected before the clock starts) and the same jobs; every time comes from the job "
    "rows (reelforge: `enqueued_at`/`started_at`/`finished_at`, stamped by the Python clock "
    "when the enqueue, claim and finish transactions begin; procrastinate: its events' "
    "`now()`). The jobs are enqueued once through each public API (the enqueue rates above) "
    "and copied back into the emptied tables before each throughput run, then ANALYZEd. "
    "*Other CPU* is the share of both CPUs used by processes other than the workers and their "
    "PostgreSQL backends; above 15 % a figure is marked *(noisy)*: rerun on a quiet machine. "
    f"A throughput run still draining after {RUN_CAP_S:.0f} s is cut (the whole benchmark "
    "stays within about 6 minutes) and counts the jobs done by then, with more jobs still "
    "queued than a full run would average. A row overlap beyond a user's limit shorter than "
    f"{STAMP_SKEW_S * 1000:.0f} ms is the stamping above, not two running jobs: the 10 ms "
    "samples of the database's running count per user are the direct check."
)
THROUGHPUT_HEADER = [
    "queue", "workers", "jobs", "wall", "jobs/s", "CPU/job workers", "CPU/job PostgreSQL",
    "other CPU", "ran twice",
]  # fmt: skip


def render_section(results: Results) -> str:
    m = results.machine
    runs = [*results.reelforge.throughput, *results.procrastinate.throughput]
    targets = [[t.name, t.measured, t.mark] for t in results.targets]
    jobs = results.reelforge.enqueue.batched_jobs
    lines = [
        SECTION,
        "",
        f"Run {m['date']} on {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM; Python "
        f"{m['python']}, PostgreSQL {m['postgresql']} (same server, a fresh database per queue), "
        f"procrastinate {m['procrastinate']}, psycopg {m['psycopg']}, SQLAlchemy "
        f"{m['sqlalchemy']}; load average {m['load_before']} before the run. Reproduce with "
        "`.venv/bin/python -m bench.queue`.",
        "",
        "### Throughput",
        "",
        f"{jobs:,} no-op jobs queued before the workers start (reelforge: spread over {USERS} "
        "`enterprise` users, limit 8 each, so per-user limits never throttle), drained by N "
        "worker processes, one job at a time each; jobs/s = jobs ÷ (last finish − start). CPU "
        "per job: the worker processes, and their PostgreSQL backends.",
        "",
        *markdown_table(THROUGHPUT_HEADER, [_throughput_row(run) for run in runs]),
        "",
        "### reelforge ÷ procrastinate",
        "",
        *markdown_table(["figure", "reelforge", "procrastinate", "ratio"], _ratio_rows(results)),
        "",
        f"Latency: {LATENCY_JOBS} jobs enqueued one at a time {LATENCY_PAUSE_S * 1000:.0f} ms "
        "apart, one idle worker woken by LISTEN/NOTIFY (reelforge's poll fallback left at 1 s, "
        "procrastinate's at its 5 s default); latency = start − enqueue from the rows.",
        "",
        "### Fairness under contention (reelforge)",
        "",
        *_fairness_lines(results.fairness),
        "",
        "### Targets",
        "",
        *markdown_table(["target", "measured", "result"], targets),
        "",
        "### What the numbers mean",
        "",
        MEANING,
    ]
    return "\n".join(lines) + "\n"


def write_results(results: Results) -> None:
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **asdict(results),
        "targets": [{**asdict(t), "mark": t.mark} for t in results.targets],
    }
    RESULTS_JSON.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    replace_section(RESULTS_MD, SECTION, render_section(results))
    log(f"wrote {RESULTS_JSON.name} and the {SECTION!r} section of {RESULTS_MD.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Queue benchmark: reelforge vs procrastinate.")
    parser.add_argument("--jobs", type=int, default=JOBS, help="no-op jobs per throughput run")
    parser.add_argument("--no-wait", action="store_true", help="skip waiting for a quiet machine")
    parser.add_argument("--no-write", action="store_true", help="print only; keep result files")
    args = parser.parse_args()
    load = os.getloadavg()[0] if args.no_wait else wait_for_quiet_load()
    started = time.monotonic()
    machine = machine_facts(load)
    ours, fairness = run_reelforge(args.jobs)
    theirs = run_procrastinate(args.jobs)
    machine["load_after"] = f"{os.getloadavg()[0]:.2f}"
    results = Results(machine, ours, theirs, fairness, evaluate(ours, theirs, fairness))
    for target in results.targets:
        log(f"target {target.name}: {target.measured} → {target.mark}")
    if not args.no_write:
        write_results(results)
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
