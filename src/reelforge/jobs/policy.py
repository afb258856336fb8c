"""Fair scheduling, as one pure function: which queued job a free worker should take next.

    effective priority = class weight (plan) + waiting time / ageing period

- **Priority by plan.** Free → low (0), Basic → normal (1), Pro and Enterprise → high (2).
- **Ageing.** A job gains one level per `ageing_s` of waiting, so a free job waiting
  `2 × ageing_s` outranks every newly submitted job: nobody starves under any load.
- **Round-robin between users.** Waiting time is counted from when the job's owner was
  last served (or from submission, if later), so a user who just got a worker goes to the
  back of their class and equal users take turns.
- **Per-user concurrency limit by plan.** A user already running `limit` jobs is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from reelforge.model.plans import Plan

CLASS_WEIGHT: Mapping[Plan, float] = MappingProxyType(
    {Plan.FREE: 0.0, Plan.BASIC: 1.0, Plan.PRO: 2.0, Plan.ENTERPRISE: 2.0}
)
DEFAULT_CONCURRENCY: Mapping[Plan, int] = MappingProxyType(
    {Plan.FREE: 1, Plan.BASIC: 2, Plan.PRO: 4, Plan.ENTERPRISE: 8}
)


@dataclass(frozen=True, slots=True)
class SchedulingPolicy:
    ageing_s: float = 60.0
    """Waiting time worth one priority level."""
    concurrency: Mapping[Plan, int] = field(default_factory=lambda: DEFAULT_CONCURRENCY)


@dataclass(frozen=True, slots=True)
class Candidate:
    """The oldest claimable job of one user, with what the policy needs to know about them."""

    job_id: object
    owner_id: object
    plan: Plan
    enqueued_at: datetime
    owner_running: int
    owner_last_claimed_at: datetime | None


def effective_priority(candidate: Candidate, policy: SchedulingPolicy, now: datetime) -> float:
    waiting_since = candidate.enqueued_at
    if candidate.owner_last_claimed_at and candidate.owner_last_claimed_at > waiting_since:
        waiting_since = candidate.owner_last_claimed_at
    waited_s = max((now - waiting_since).total_seconds(), 0.0)
    return CLASS_WEIGHT[candidate.plan] + waited_s / policy.ageing_s


def rank(
    candidates: Iterable[Candidate], policy: SchedulingPolicy, now: datetime
) -> list[Candidate]:
    """Eligible candidates in the order they should be tried (best first).

    Ties go to the user running fewer jobs, then to the older job.
    """
    eligible = [c for c in candidates if c.owner_running < policy.concurrency[c.plan]]
    return sorted(eligible, key=lambda c: order_key(c, policy, now))


def order_key(
    candidate: Candidate, policy: SchedulingPolicy, now: datetime
) -> tuple[float, int, datetime]:
    """What `rank` sorts by (smaller first): priority, then fewer running, then older."""
    return (
        -effective_priority(candidate, policy, now),
        candidate.owner_running,
        candidate.enqueued_at,
    )
