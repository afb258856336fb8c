"""PostgreSQL's hot-path queue statements, as SQL text (`manager_pg.py` runs them, prepared).

The claim and the finish of a no-op job are the queue's whole cost, so on PostgreSQL they are
single statements with data-modifying CTEs, sent pipelined (several statements, one round
trip) on the raw psycopg connection and prepared server-side: no SQLAlchemy compilation per
call. Everything else, and all of SQLite, uses the dialect-neutral Core in `queries.py`;
`tests/integration/jobs/test_manager_pg.py` prepares each statement against the migrated
schema, so a renamed column fails there.

Why `CLAIM` can trust a candidate list read earlier (by `HEADS`) without re-counting:
every start of a user's job also updates that user's `users` row (`last_claimed_at`) in the
same transaction, so the row's version (`xmin`) changes with every start. `CLAIM` locks the
first candidate owner whose row is free (`FOR UPDATE SKIP LOCKED`: owners another worker is
starting a job for are skipped) *and still at the version `HEADS` saw*. PostgreSQL rechecks
that condition on the newest row version when it takes the lock, so an owner served by anyone
since the read is skipped. An owner not served since has had no job started since, so their
running count can only have gone down: the count `HEADS` read (below the plan's limit, or the
owner would not be a candidate) still bounds it, and the per-user limit holds without a
second statement. A job is started only by an update that still finds it queued, so no job
starts twice.
"""

from __future__ import annotations

from reelforge.jobs.queries import jobs

HEADS = """
WITH RECURSIVE firsts AS (
    (SELECT j.owner_id, j.id, j.enqueued_at, j.run_after FROM render_jobs j
     WHERE j.state = 'queued' ORDER BY j.owner_id, j.enqueued_at LIMIT 1)
  UNION ALL
    SELECT n.owner_id, n.id, n.enqueued_at, n.run_after FROM firsts f
    CROSS JOIN LATERAL (
        SELECT j.owner_id, j.id, j.enqueued_at, j.run_after FROM render_jobs j
        WHERE j.state = 'queued' AND j.owner_id > f.owner_id
        ORDER BY j.owner_id, j.enqueued_at LIMIT 1
    ) n
), heads AS (
    SELECT f.owner_id, f.id, f.enqueued_at FROM firsts f WHERE f.run_after <= %(now)s
  UNION ALL
    SELECT f.owner_id, later.id, later.enqueued_at FROM firsts f
    CROSS JOIN LATERAL (
        SELECT j.id, j.enqueued_at FROM render_jobs j
        WHERE j.owner_id = f.owner_id AND j.state = 'queued' AND j.run_after <= %(now)s
        ORDER BY j.enqueued_at LIMIT 1
    ) later
    WHERE f.run_after > %(now)s
), busy AS (
    SELECT owner_id, count(*) AS n FROM render_jobs WHERE state = 'running' GROUP BY owner_id
)
SELECT h.id, h.owner_id, u.plan, h.enqueued_at, coalesce(b.n, 0) AS running,
       u.last_claimed_at, u.xmin::text AS version
FROM heads h
JOIN users u ON u.id = h.owner_id
LEFT JOIN busy b ON b.owner_id = h.owner_id
ORDER BY h.enqueued_at
LIMIT %(limit)s
"""
"""Each waiting user's oldest claimable job, with their plan, running count and last service
(`queries.candidate_heads`, cheaper): one loose-index-scan hop per owner along the claim index
(`state, owner_id, enqueued_at`) lands on that owner's oldest queued job, which is the head
unless it waits for a retry (then one more probe finds the oldest claimable one); running
counts come from one scan of the running jobs instead of a probe per owner. `version` is the
owner's row version, for `CLAIM`."""

CLAIM = """
WITH ranked AS (
    SELECT * FROM unnest(%(owners)b::uuid[], %(versions)b::text[], %(jobs)b::uuid[])
        WITH ORDINALITY AS c(owner_id, version, job_id, position)
), locked AS (
    SELECT u.id AS owner_id, r.job_id FROM users u JOIN ranked r ON r.owner_id = u.id
    WHERE u.xmin::text = r.version
    ORDER BY r.position
    LIMIT 1
    FOR UPDATE OF u SKIP LOCKED
), started AS (
    UPDATE render_jobs j
    SET state = 'running', attempts = j.attempts + 1, started_at = %(now)s,
        heartbeat_at = %(now)s, worker_id = %(worker)s
    FROM locked l
    WHERE j.id = l.job_id AND j.state = 'queued'
    RETURNING j.id, j.owner_id, j.kind, j.payload, j.attempts, j.max_attempts, j.checkpoints,
              j.enqueued_at
), served AS (
    UPDATE users u SET last_claimed_at = %(now)s FROM started s WHERE u.id = s.owner_id
), logged AS (
    INSERT INTO events (user_id, job_id, type, data, created_at)
    SELECT s.owner_id, s.id, 'started', json_build_object('attempt', s.attempts), %(now)s
    FROM started s
)
SELECT l.owner_id, s.id, s.owner_id, s.kind, s.payload, s.attempts, s.max_attempts,
       s.checkpoints, s.enqueued_at
FROM locked l LEFT JOIN started s ON true
"""
"""Start the head job of the best candidate owner (`owners`, `versions`, `jobs`: ranked,
aligned) that is free and unchanged since `HEADS`. One row: the owner locked, then the started
job's columns (all NULL if that job was no longer queued); no row if no candidate qualified."""

SUCCEED = """
WITH done AS (
    UPDATE render_jobs
    SET state = 'succeeded', progress = 1.0, result = %(result)s, finished_at = %(now)s
    WHERE id = %(job)s AND state = 'running' AND worker_id = %(worker)s
    RETURNING id, owner_id, kind, plan
), logged AS (
    INSERT INTO events (user_id, job_id, type, data, created_at)
    SELECT owner_id, id, 'succeeded', %(event)s, %(now)s FROM done
), fact AS (
    INSERT INTO product_events (kind, user_id, subject_id, label, value, at)
    SELECT 'render_succeeded', owner_id, id, plan, %(cost)s, %(now)s FROM done
    WHERE kind = 'render'
)
SELECT owner_id FROM done
"""
"""`queries.finish` for a success, with its event and its product fact (renders only): matches
nothing if this worker lost the job."""


def _enqueue() -> str:
    """`ENQUEUE`, its column list read from the table (a column added later is not missed)."""
    names = [column.name for column in jobs.columns]
    columns, values = ", ".join(names), ", ".join(f"%({name})s" for name in names)
    # The names are the table's own columns; every value is a parameter.
    return f"""
WITH job AS (
    INSERT INTO render_jobs ({columns})
    VALUES ({values})
    ON CONFLICT ON CONSTRAINT uq_render_jobs_idempotency DO NOTHING
    RETURNING id, owner_id, enqueued_at
), logged AS (
    INSERT INTO events (user_id, job_id, type, data, created_at)
    SELECT owner_id, id, 'queued', %(event)s, enqueued_at FROM job
)
SELECT pg_notify(%(channel)s, '') FROM job
"""  # nosec B608


ENQUEUE = _enqueue()
"""Add one job (every column of a `queries.job_row`) with its `queued` event and a wake-up
(sent when the transaction commits), in one statement: one round trip, where the ORM's
insert, then the event's, took two. No row if the owner already used the job's
idempotency key (then nothing is added and nobody is woken)."""
