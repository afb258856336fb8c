"""Queue health: depth per plan, running per worker, oldest wait, success rate, wait/run times."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from reelforge.db.models import JobState
from reelforge.jobs import queries as q
from reelforge.jobs.manager import JobManager

WINDOW = timedelta(hours=24)
SAMPLE_LIMIT = 5000


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass(frozen=True, slots=True)
class QueueStats:
    queued_by_plan: dict[str, int] = field(default_factory=dict)
    oldest_wait_s: float = 0.0
    running_by_worker: dict[str, int] = field(default_factory=dict)
    finished: int = 0
    success_rate: float | None = None
    wait_p50_s: float | None = None
    wait_p95_s: float | None = None
    run_p50_s: float | None = None
    run_p95_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def queue_stats(manager: JobManager) -> QueueStats:
    """Health over the last 24 h (at most the latest 5 000 finished jobs)."""
    now = manager.clock()
    with manager.engine.connect() as conn:
        queued = conn.execute(q.queued_by_plan()).all()
        running = conn.execute(q.running_by_worker()).all()
        finished = conn.execute(q.recent_finished(now - WINDOW, SAMPLE_LIMIT)).all()
    oldest = min((row[2] for row in queued), default=None)
    waits = [(r.started_at - r.enqueued_at).total_seconds() for r in finished if r.started_at]
    runs = [(r.finished_at - r.started_at).total_seconds() for r in finished if r.started_at]
    succeeded = sum(r.state == JobState.SUCCEEDED for r in finished)
    return QueueStats(
        queued_by_plan={str(row[0]): int(row[1]) for row in queued},
        oldest_wait_s=(now - oldest).total_seconds() if oldest else 0.0,
        running_by_worker={str(row[0]): int(row[1]) for row in running},
        finished=len(finished),
        success_rate=succeeded / len(finished) if finished else None,
        wait_p50_s=percentile(waits, 0.5),
        wait_p95_s=percentile(waits, 0.95),
        run_p50_s=percentile(runs, 0.5),
        run_p95_s=percentile(runs, 0.95),
    )
