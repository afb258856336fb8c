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
import contextlib
import os
import platform
import statistics
import time
from collections.abc import Sequence
from importlib import metadata

import psutil
from sqlalchemy import create_engine, text

from bench.pg import PG_SERVER, fresh_database
from bench.queue_fairness import Fairness, measure_fairness
from bench.queue_load import (
    JOBS,
    LATENCY_TIMINGS,
    PROCRASTINATE_WORKER_COUNTS,
    TARGET_RUNS,
    TARGET_WORKERS,
    WORKER_COUNTS,
    measure_enqueue,
    measure_latency,
    measure_throughput,
    prepare_queue,
)
from bench.queue_report import Results, SystemResults, evaluate, write_results
from bench.queue_systems import (
    ProcrastinateQueue,
    QueueSystem,
    ReelforgeQueue,
    log,
    utcnow,
)
from bench.report import cpu_model
from reelforge.jobs.worker import WorkerTimings

QUIET_LOAD = 1.5
QUIET_WAIT_S = 300.0


def run_system(
    system: QueueSystem, workers: Sequence[int], jobs: int, latency_timings: WorkerTimings | None
) -> SystemResults:
    """The same measurements for either queue: enqueue rates, throughput, wake-up latency."""
    enqueue = measure_enqueue(system, jobs)
    throughput = [measure_throughput(system, n, jobs) for n in workers]
    return SystemResults(enqueue, throughput, measure_latency(system, latency_timings))


def run_both(jobs: int) -> tuple[SystemResults, SystemResults, Fairness]:
    """Each queue's measurements, then `TARGET_RUNS - 1` more throughput runs with
    `TARGET_WORKERS` for both, taking turns (both databases stay up meanwhile)."""
    with contextlib.ExitStack() as stack:
        ours = ReelforgeQueue(stack.enter_context(fresh_database("reelforge_bench")))
        stack.callback(ours.close)
        theirs = ProcrastinateQueue(stack.enter_context(fresh_database("procrastinate_bench")))
        stack.callback(theirs.close)
        our_results = run_system(ours, WORKER_COUNTS, jobs, LATENCY_TIMINGS)
        fairness = measure_fairness(ours)
        their_results = run_system(theirs, PROCRASTINATE_WORKER_COUNTS, jobs, None)
        for _ in range(TARGET_RUNS - 1):
            for queue, results in ((ours, our_results), (theirs, their_results)):
                results.throughput.append(measure_throughput(queue, TARGET_WORKERS, jobs))
        return our_results, their_results, fairness


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


def quick_throughput(jobs: int, workers: Sequence[int], repeat: int, systems: list[str]) -> None:
    """Throughput only, for measuring a change: the systems take turns run after run (the
    machine is shared, so both see the same noise), then the medians. Writes no files."""
    kinds = {"reelforge": ReelforgeQueue, "procrastinate": ProcrastinateQueue}
    rates: dict[tuple[str, int], list[float]] = {}
    with contextlib.ExitStack() as stack:
        queues: list[QueueSystem] = []
        for name in systems:
            queue = kinds[name](stack.enter_context(fresh_database(f"{name}_bench")))
            stack.callback(queue.close)
            prepare_queue(queue, jobs)
            queues.append(queue)
        for _ in range(repeat):
            for queue in queues:
                for n in workers:
                    run = measure_throughput(queue, n, jobs)
                    rates.setdefault((queue.name, n), []).append(run.jobs_per_s)
    for (name, n), found in rates.items():
        spread = ", ".join(f"{r:,.0f}" for r in found)
        log(f"{name} x{n}: median {statistics.median(found):,.0f} jobs/s ({spread})")


def main() -> None:
    parser = argparse.ArgumentParser(description="Queue benchmark: reelforge vs procrastinate.")
    parser.add_argument("--jobs", type=int, default=JOBS, help="no-op jobs per throughput run")
    parser.add_argument("--no-wait", action="store_true", help="skip waiting for a quiet machine")
    parser.add_argument("--no-write", action="store_true", help="print only; keep result files")
    parser.add_argument(
        "--throughput-only", action="store_true",
        help="only no-op throughput, repeated, medians printed (implies --no-write)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[4], help="with --throughput-only"
    )
    parser.add_argument("--repeat", type=int, default=3, help="with --throughput-only")
    parser.add_argument(
        "--systems", nargs="+", choices=["reelforge", "procrastinate"],
        default=["reelforge", "procrastinate"], help="with --throughput-only",
    )  # fmt: skip
    args = parser.parse_args()
    if args.throughput_only:
        quick_throughput(args.jobs, args.workers, args.repeat, args.systems)
        return
    load = os.getloadavg()[0] if args.no_wait else wait_for_quiet_load()
    started = time.monotonic()
    machine = machine_facts(load)
    ours, theirs, fairness = run_both(args.jobs)
    machine["load_after"] = f"{os.getloadavg()[0]:.2f}"
    results = Results(machine, ours, theirs, fairness, evaluate(ours, theirs, fairness))
    for target in results.targets:
        log(f"target {target.name}: {target.measured} → {target.mark}")
    if not args.no_write:
        write_results(results)
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
