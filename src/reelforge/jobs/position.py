"""A queued job's place in line, by the scheduler's own ordering (`policy.order_key`), not FIFO.

    position = 1 + the owner's own queued jobs submitted earlier (a user's jobs run in order)
                 + other users' waiting head jobs the policy ranks before the owner's head now

1 means "the job the scheduler starts next" when a worker is free and the owner is below their
plan's limit. Further back it is an estimate: it assumes no new submissions, and ageing and
round-robin reorder users as jobs start (a user just served goes to the back of their class).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection, func, select

from reelforge.db.models import JobState
from reelforge.jobs import queries as q
from reelforge.jobs.policy import Candidate, SchedulingPolicy, order_key
from reelforge.model.plans import Plan


def queue_position(
    conn: Connection, job_id: UUID, policy: SchedulingPolicy, now: datetime, candidates: int
) -> int | None:
    """The job's position (1 = next), or None if it is not queued; `candidates` is how many
    users' head jobs the scheduler reads per claim (the same read is used here)."""
    jobs, users = q.jobs, q.users
    row = conn.execute(
        select(jobs.c.owner_id, jobs.c.state, jobs.c.enqueued_at).where(jobs.c.id == job_id)
    ).first()
    if row is None or row.state != JobState.QUEUED:
        return None
    earlier = (
        jobs.c.owner_id == row.owner_id,
        jobs.c.state == JobState.QUEUED,
        jobs.c.enqueued_at < row.enqueued_at,
    )
    own_ahead = conn.execute(select(func.count()).where(*earlier)).scalar_one()
    heads = conn.execute(q.candidate_heads(), {"now": now, "limit": candidates}).all()
    waiting = [
        Candidate(r.id, r.owner_id, Plan(r.plan), r.enqueued_at, r.running, r.last_claimed_at)
        for r in heads
    ]
    mine = next((c for c in waiting if c.owner_id == row.owner_id), None)
    if mine is None:  # the owner's head waits for a retry, or is beyond the candidates read
        owner = conn.execute(
            select(users.c.plan, users.c.last_claimed_at).where(users.c.id == row.owner_id)
        ).one()
        running = conn.execute(q.running_count(row.owner_id)).scalar_one()
        mine = Candidate(
            job_id, row.owner_id, Plan(owner.plan), row.enqueued_at, running,
            owner.last_claimed_at,
        )  # fmt: skip
    key = order_key(mine, policy, now)
    others = [c for c in waiting if c.owner_id != row.owner_id]
    ahead = sum(order_key(c, policy, now) < key for c in others)
    return 1 + int(own_ahead) + ahead
