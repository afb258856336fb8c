"""Queue health as Prometheus metrics.

- `QueueCollector`: what is true now, read from the database at scrape time with two cheap
  aggregate queries (depth per plan and the oldest wait; running jobs).
- `JobMetrics`: histograms and counters a worker observes as each attempt ends (wait and run
  time, outcome), so a scrape computes nothing. Labels are bounded (the outcome, the kind):
  never a worker id. Workers in the API process (`reelforge serve`) report on its `/metrics`;
  `reelforge worker --metrics-port P` serves its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reelforge.jobs import queries as q
from reelforge.jobs.manager import JobManager

WAIT_BUCKETS_S = (0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
RUN_BUCKETS_S = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
OUTCOMES = ("succeeded", "retrying", "failed", "canceled", "handed_back", "lost")


class QueueCollector(Collector):
    def __init__(self, manager: JobManager) -> None:
        self._manager = manager

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._manager.clock()
        with self._manager.engine.connect() as conn:
            queued = conn.execute(q.queued_by_plan()).all()
            running = conn.execute(q.running_total()).scalar_one()
        depth = GaugeMetricFamily("reelforge_queue_depth", "Jobs waiting, by plan", labels=["plan"])
        for plan, count, _ in queued:
            depth.add_metric([str(plan)], count)
        yield depth
        yield GaugeMetricFamily("reelforge_jobs_running", "Jobs running", value=running)
        oldest = min((row[2] for row in queued), default=None)
        yield GaugeMetricFamily(
            "reelforge_queue_oldest_wait_seconds", "Age of the oldest waiting job",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )  # fmt: skip


class JobMetrics:
    """What workers observe when an attempt ends, on `registry` (default: the global one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or REGISTRY
        self.wait = Histogram(
            "reelforge_job_wait_seconds", "From submission to the start of an attempt",
            ["kind"], buckets=WAIT_BUCKETS_S, registry=registry,
        )  # fmt: skip
        self.run = Histogram(
            "reelforge_job_run_seconds", "Duration of an attempt, by how it ended",
            ["kind", "outcome"], buckets=RUN_BUCKETS_S, registry=registry,
        )  # fmt: skip
        self.finished = Counter(
            "reelforge_job_attempts", "Attempts ended, by outcome", ["kind", "outcome"],
            registry=registry,
        )  # fmt: skip

    def started(self, kind: str, enqueued_at: datetime | None, now: datetime) -> None:
        if enqueued_at is not None:
            if enqueued_at.tzinfo is None:
                enqueued_at = enqueued_at.replace(tzinfo=UTC)
            self.wait.labels(kind).observe(max((now - enqueued_at).total_seconds(), 0.0))

    def ended(self, kind: str, outcome: str, run_s: float) -> None:
        self.run.labels(kind, outcome).observe(run_s)
        self.finished.labels(kind, outcome).inc()
