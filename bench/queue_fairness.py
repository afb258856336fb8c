"""Fairness under contention (reelforge only): shares, waits and per-user limits of 3 free users
and 1 pro user draining a backlog together."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bench.queue_fleet import check_ran_once, run_to_completion, running_fleet
from bench.queue_load import THROUGHPUT_TIMINGS
from bench.queue_systems import JobTimes, ReelforgeQueue, analyze, log
from reelforge.jobs.policy import SchedulingPolicy
from reelforge.model.plans import Plan

FREE_USERS = 3
JOBS_PER_USER = 50
SLEEP_S = 0.05
FAIRNESS_WORKERS = 4
SLICES = 10


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
