"""Spawned worker processes released together by one event (the clock's start), and the CPU
they and their PostgreSQL backends use."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
from sqlalchemy.engine import make_url

from bench.measure import system_busy_s
from bench.queue_systems import JobTimes, QueueSystem, unfinished, utcnow, worker_main
from reelforge.jobs.worker import WorkerTimings

DRAIN_POLL_S = 0.05
RUN_TIMEOUT_S = 120.0
"""Latency and fairness runs must finish: past this the benchmark fails instead of hanging."""


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
