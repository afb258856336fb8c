"""Enqueue rates, no-op throughput and enqueue→start latency: the same measurements for
either queue."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from bench.queue_fleet import check_ran_once, run_to_completion, running_fleet
from bench.queue_systems import QueueSystem, log, restore_queue, save_queue
from reelforge.jobs.stats import percentile
from reelforge.jobs.worker import WorkerTimings

JOBS = 10_000
ONE_BY_ONE_JOBS = 1_000
"""Enqueueing one job per transaction is round-trip bound: 1 000 give a stable rate."""
WORKER_COUNTS = (1, 2, 4, 8)
PROCRASTINATE_WORKER_COUNTS = (1, 4)
TARGET_WORKERS = 4
TARGET_RUNS = 3
"""Throughput runs of each queue with `TARGET_WORKERS` (taking turns): the targets use the
median, since other processes on the shared machine swing single runs by ±30 %."""
LATENCY_JOBS = 200
LATENCY_PAUSE_S = 0.04
"""Between enqueues: the single worker is idle again (waiting on LISTEN) when each job arrives."""
THROUGHPUT_TIMINGS = WorkerTimings(heartbeat_s=0.2, poll_s=0.05)
LATENCY_TIMINGS = WorkerTimings(heartbeat_s=0.2)
"""`poll_s` stays at its 1 s default: a prompt start can only come from NOTIFY."""
RUN_CAP_S = 60.0
"""A throughput run still draining after this is stopped and reported as partial (the time
bound of the whole benchmark)."""


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


def prepare_queue(system: QueueSystem, jobs: int) -> None:
    """Enqueue `jobs` in one transaction and save them for the throughput runs (no rates)."""
    system.reset()
    system.enqueue(jobs, batched=True)
    save_queue(system)


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
