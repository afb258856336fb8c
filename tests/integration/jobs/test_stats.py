"""Queue health figures from real rows, and the same as Prometheus metrics."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from reelforge.db.models import JobState
from reelforge.jobs.manager import JobManager
from reelforge.jobs.metrics import JobMetrics, QueueCollector
from reelforge.jobs.retry import ErrorClass
from reelforge.jobs.stats import percentile, queue_stats
from reelforge.jobs.testing import TEST_KINDS
from reelforge.jobs.worker import Worker
from reelforge.model.plans import Plan

from .test_manager import Clock, add_user, submit
from .test_worker import FAST, job, wait_for
from .test_worker import submit as submit_kind


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0


def test_stats_from_the_queue(engine: Engine) -> None:
    clock = Clock()
    manager = JobManager(engine, clock=clock)
    pro, free = add_user(engine, Plan.PRO), add_user(engine, Plan.FREE)
    submit(manager, pro, 3)
    submit(manager, free, 2)
    clock.advance(4)
    first, second = manager.claim("w1", limit=2)
    clock.advance(10)
    manager.succeed(first.id, "w1", {})
    manager.fail(second.id, "w1", ErrorClass.VALIDATION, "bad", "input", 1, 3)
    manager.claim("w2")
    clock.advance(1)

    stats = queue_stats(manager)
    assert stats.queued_by_plan == {"free": 2}  # pro outranks free: all three pro jobs ran
    assert stats.running_by_worker == {"w2": 1}
    assert stats.oldest_wait_s == pytest.approx(15.0, abs=1e-3)  # enqueue times step by 1 µs
    assert stats.finished == 2 and stats.success_rate == 0.5
    assert stats.wait_p50_s == pytest.approx(4.0, abs=1e-3)
    assert stats.run_p95_s == 10.0

    registry = CollectorRegistry()
    registry.register(QueueCollector(manager))
    text = generate_latest(registry).decode()
    assert 'reelforge_queue_depth{plan="free"} 2.0' in text
    assert "reelforge_jobs_running 1.0" in text  # no per-worker label: it grew without bound
    assert registry.get_sample_value("reelforge_queue_oldest_wait_seconds") == pytest.approx(15.0)
    assert "worker=" not in text


def test_workers_observe_wait_and_run_histograms_as_jobs_end(engine: Engine) -> None:
    """Percentiles were computed in the app over 5 000 rows at every scrape; now each
    attempt is observed once, as it ends, into Prometheus histograms."""
    registry = CollectorRegistry()
    manager = JobManager(engine)
    user = add_user(engine, Plan.PRO)
    ok = submit_kind(manager, user, "noop")
    bad = submit_kind(manager, user, "sleep", seconds=0.05, fail_attempts=9)
    worker = Worker(manager, TEST_KINDS, timings=FAST, metrics=JobMetrics(registry))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: job(engine, ok).state == JobState.SUCCEEDED and job(engine, bad).attempts >= 1
        )
        wait_for(lambda: value(registry, "reelforge_job_attempts_total", "sleep", "retrying") >= 1)
    finally:
        worker.stop()
        thread.join(10)
    assert value(registry, "reelforge_job_attempts_total", "noop", "succeeded") == 1
    assert value(registry, "reelforge_job_run_seconds_count", "noop", "succeeded") == 1
    assert registry.get_sample_value("reelforge_job_wait_seconds_count", {"kind": "noop"}) == 1
    assert "worker" not in generate_latest(registry).decode()


def value(registry: CollectorRegistry, name: str, kind: str, outcome: str) -> float:
    return registry.get_sample_value(name, {"kind": kind, "outcome": outcome}) or 0.0
