"""Queue health as Prometheus metrics, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reelforge.jobs.manager import JobManager
from reelforge.jobs.stats import queue_stats


class QueueCollector(Collector):
    def __init__(self, manager: JobManager) -> None:
        self._manager = manager

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = queue_stats(self._manager)
        depth = GaugeMetricFamily("reelforge_queue_depth", "Jobs waiting, by plan", labels=["plan"])
        for plan, count in stats.queued_by_plan.items():
            depth.add_metric([plan], count)
        yield depth
        running = GaugeMetricFamily(
            "reelforge_jobs_running", "Jobs running, by worker", labels=["worker"]
        )
        for worker, count in stats.running_by_worker.items():
            running.add_metric([worker], count)
        yield running
        yield GaugeMetricFamily(
            "reelforge_queue_oldest_wait_seconds", "Age of the oldest waiting job",
            value=stats.oldest_wait_s,
        )  # fmt: skip
        if stats.success_rate is not None:
            yield GaugeMetricFamily(
                "reelforge_jobs_success_ratio", "Succeeded / finished jobs, last 24 h",
                value=stats.success_rate,
            )  # fmt: skip
        for name, value in (
            ("wait_p50", stats.wait_p50_s), ("wait_p95", stats.wait_p95_s),
            ("run_p50", stats.run_p50_s), ("run_p95", stats.run_p95_s),
        ):  # fmt: skip
            if value is not None:
                yield GaugeMetricFamily(
                    f"reelforge_jobs_{name}_seconds", f"{name} over the last 24 h", value=value
                )
