"""Wall time and peak memory of a call, counting the ffmpeg children it starts.

`resource.getrusage` only sees the Python process (and only its lifetime peak),
so the process tree's resident memory is summed by a sampling thread instead.
The machine may be shared, so each measurement also records how much CPU
other processes used meanwhile: a slow figure with a busy machine is noise.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psutil

T = TypeVar("T")
SAMPLE_INTERVAL_S = 0.05
MIB = 1024 * 1024
_BUSY_FIELDS = ("user", "system", "nice", "irq", "softirq", "steal")


def system_busy_s() -> float:
    """CPU seconds all processes on the machine have used (plus time stolen by the host)."""
    cpu = psutil.cpu_times()
    return float(sum(getattr(cpu, name, 0.0) for name in _BUSY_FIELDS))


def own_cpu_s() -> float:
    """CPU seconds of this process and of the children it has waited for (ffmpeg)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def other_cpu_share(busy_s: float, own_s: float, wall_s: float) -> float:
    """Share of the machine's CPUs that other processes used over `wall_s`."""
    cpus = len(os.sched_getaffinity(0))
    return max(0.0, busy_s - own_s) / (wall_s * cpus) if wall_s > 0 else 0.0


def wait_for_quiet(threshold: float = 0.15, max_wait_s: float = 30.0) -> float:
    """Wait (bounded) until other processes use under `threshold` of the CPUs; return the share."""
    deadline = time.monotonic() + max_wait_s
    while True:
        busy, own, started = system_busy_s(), own_cpu_s(), time.perf_counter()
        time.sleep(1.0)
        elapsed = time.perf_counter() - started
        share = other_cpu_share(system_busy_s() - busy, own_cpu_s() - own, elapsed)
        if share < threshold or time.monotonic() > deadline:
            return share


def tree_rss_bytes(root: psutil.Process) -> int:
    """Resident memory of `root` plus all its descendants (shared pages counted per process).

    A child still running `root`'s own program has not reached `exec` yet (subprocess forks,
    then execs ffmpeg): it shares `root`'s pages, and counting them would add `root`'s whole
    RSS a second time whenever a sample lands in that window.
    """
    total = root.memory_info().rss
    try:
        own_exe = root.exe()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        own_exe = ""
    for proc in root.children(recursive=True):
        try:
            if own_exe and proc.exe() == own_exe:
                continue
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue  # a child that ended between listing and reading
    return total


class PeakTreeRss:
    """Context manager sampling this process tree's RSS every 50 ms; keeps the peak."""

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self._root = psutil.Process(os.getpid())
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self.baseline_bytes = 0
        self.peak_bytes = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(self._root))
            self._stop.wait(self._interval_s)

    def __enter__(self) -> PeakTreeRss:
        self.baseline_bytes = tree_rss_bytes(self._root)
        self.peak_bytes = self.baseline_bytes
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(self._root))


@dataclass(frozen=True, slots=True)
class Measured(Generic[T]):
    """A call's return value with its wall time and the process tree's memory."""

    value: T
    wall_s: float
    peak_rss_bytes: int
    baseline_rss_bytes: int
    other_cpu_share: float
    """Share of the CPUs other processes used meanwhile (0 = the machine was ours)."""
    cpu_s: float = 0.0
    """CPU seconds of this process and the children it waited for (ffmpeg) during the call:
    on a shared machine the wall time swings, this much less."""

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / MIB

    @property
    def added_rss_mib(self) -> float:
        """Peak above what the process already held: the call's own footprint."""
        return (self.peak_rss_bytes - self.baseline_rss_bytes) / MIB


def measure(call: Callable[[], T]) -> Measured[T]:
    """Run `call` once, timing it and tracking the peak RSS of the process tree."""
    busy, own = system_busy_s(), own_cpu_s()
    with PeakTreeRss() as rss:
        started = time.perf_counter()
        value = call()
        wall_s = time.perf_counter() - started
    used = own_cpu_s() - own
    other = other_cpu_share(system_busy_s() - busy, used, wall_s)
    return Measured(value, wall_s, rss.peak_bytes, rss.baseline_bytes, other, used)
