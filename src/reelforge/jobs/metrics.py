"""Queue health as Prometheus metrics.

- `QueueCollector`: what is true now, read from the database at scrape time with two cheap
  aggregate queries (depth per plan and the oldest wait; running jobs).
- `JobMetrics`: histograms and counters a worker observes as each attempt ends (wait and run
  time, outcome; each stage's time and the providers' calls and cost of a finished render;
  failures by error class and stage), so a scrape computes nothing. Labels are bounded (the
  outcome, the kind, the stage, the error class, the provider): never a worker or job id.
  Workers in the API process (`reelforge serve`) report on its `/metrics`;
  `reelforge worker --metrics-port P` serves its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
        by_plan = GaugeMetricFamily(
            "reelforge_queue_oldest_wait_by_plan_seconds", "Age of the oldest waiting job, by plan",
            labels=["plan"],
        )  # fmt: skip
        for plan, count, oldest_at in queued:
            depth.add_metric([str(plan)], count)
            by_plan.add_metric([str(plan)], _age_s(now, oldest_at))
        yield depth
        yield by_plan
        yield GaugeMetricFamily("reelforge_jobs_running", "Jobs running", value=running)
        oldest = min((row[2] for row in queued), default=None)
        yield GaugeMetricFamily(
            "reelforge_queue_oldest_wait_seconds", "Age of the oldest waiting job",
            value=_age_s(now, oldest) if oldest else 0.0,
        )  # fmt: skip


class DiskCollector(Collector):
    """Free and total bytes of the folders renders write to (labelled `data`, `cache`): a
    full disk fails every render, so it is alerted on before it happens."""

    def __init__(self, folders: Mapping[str, Path]) -> None:
        self._folders = dict(folders)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        free = GaugeMetricFamily(
            "reelforge_disk_free_bytes", "Free space where renders are written", labels=["dir"]
        )
        size = GaugeMetricFamily(
            "reelforge_disk_size_bytes", "Size of the file system renders are written to",
            labels=["dir"],
        )  # fmt: skip
        for name, folder in self._folders.items():
            try:
                usage = shutil.disk_usage(folder)
            except OSError:  # not created yet: nothing to report
                continue
            free.add_metric([name], usage.free)
            size.add_metric([name], usage.total)
        yield free
        yield size


def _age_s(now: datetime, then: datetime) -> float:
    if then.tzinfo is None:  # SQLite's aggregate returns a naive UTC value
        then = then.replace(tzinfo=UTC)
    return max((now - then).total_seconds(), 0.0)


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
        self.stage = Histogram(
            "reelforge_render_stage_seconds", "Time a finished render spent in each stage",
            ["stage"], buckets=RUN_BUCKETS_S, registry=registry,
        )  # fmt: skip
        self.failures = Counter(
            "reelforge_job_failures", "Failed attempts, by error class and stage, and whether "
            "they are retried", ["error_class", "stage", "retried"], registry=registry,
        )  # fmt: skip
        self.provider_calls = Counter(
            "reelforge_provider_calls", "Provider calls made by finished renders", ["provider"],
            registry=registry,
        )  # fmt: skip
        self.provider_cost = Counter(
            "reelforge_provider_cost_usd", "What finished renders' provider calls cost",
            ["provider"], registry=registry,
        )  # fmt: skip

    def started(self, kind: str, enqueued_at: datetime | None, now: datetime) -> None:
        if enqueued_at is not None:
            if enqueued_at.tzinfo is None:
                enqueued_at = enqueued_at.replace(tzinfo=UTC)
            self.wait.labels(kind).observe(max((now - enqueued_at).total_seconds(), 0.0))

    def ended(self, kind: str, outcome: str, run_s: float) -> None:
        self.run.labels(kind, outcome).observe(run_s)
        self.finished.labels(kind, outcome).inc()

    def succeeded(self, result: dict[str, Any]) -> None:
        """A render's stage times and provider usage, from its job result."""
        for stage, seconds in result.get("stage_seconds", {}).items():
            self.stage.labels(stage).observe(seconds)
        for provider, usage in result.get("usage", {}).items():
            self.provider_calls.labels(provider).inc(usage["calls"])
            self.provider_cost.labels(provider).inc(usage["cost_usd"])

    def failed(self, error_class: str, stage: str | None, retried: bool) -> None:
        self.failures.labels(error_class, stage or "unknown", str(retried).lower()).inc()
