"""Queue health figures from real rows, and the same as Prometheus metrics."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from reelforge.jobs.manager import JobManager
from reelforge.jobs.metrics import QueueCollector
from reelforge.jobs.retry import ErrorClass
from reelforge.jobs.stats import percentile, queue_stats
from reelforge.model.plans import Plan

from .test_manager import Clock, add_user, submit


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
    assert 'reelforge_jobs_running{worker="w2"} 1.0' in text
    assert "reelforge_jobs_success_ratio 0.5" in text
