"""The manager's PostgreSQL fast path: claim, and finish-then-claim, in as few round trips as
the guarantees allow. `JobManager` calls it; it runs only `queries_pg.py`.

A busy worker pays one round trip and one commit per no-op job:

    [BEGIN; SUCCEED previous; CLAIM next; COMMIT]

Each bracket is one psycopg pipeline (statements sent together, results read once) on the
pooled connection, with server-side prepared statements. `CLAIM` takes the candidates ranked
by the scheduling policy (`policy.rank`, in Python) from a recent `HEADS` read, which is the
expensive statement (one index hop per waiting user): a worker keeps its ranked list for
`RANKING_MAX_AGE_S` and re-reads it sooner when it runs out, when this process enqueued or
requeued a job, or when no candidate in it is still claimable. Reading costs one more round
trip: `[BEGIN; SUCCEED; HEADS]`, rank, `[CLAIM; COMMIT]`.

Why a ranked list read a moment ago keeps the guarantees is in `queries_pg.py`: the per-user
limit and "never twice" are enforced by `CLAIM` itself. What staleness can cost is ranking
accuracy, bounded by `RANKING_MAX_AGE_S`: an owner served since the read is skipped (as the
policy would: they went to the back), and jobs of owners not in the list (new arrivals, owners
who were at their limit) wait for the next read.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from reelforge.jobs import queries_pg as qp
from reelforge.jobs.policy import Candidate, SchedulingPolicy, rank
from reelforge.model.plans import Plan

CLAIM_BATCH = 16
"""Ranked candidates offered to one `CLAIM` (it starts the first one still claimable)."""
RANKING_MAX_AGE_S = 0.05
"""How long a worker may claim from one `HEADS` read: the bound on ranking staleness."""
READS_PER_CLAIM = 2
"""`HEADS` reads one claim may make: a second one when every candidate of the first was
taken meanwhile (the queue is not empty, other workers were just faster)."""


@dataclass(slots=True)
class _Ranking:
    """A worker's candidates, best first, with their owners' row versions as read."""

    candidates: list[Candidate]
    versions: dict[Any, str]
    read_at: float
    generation: int


@dataclass(frozen=True, slots=True)
class Success:
    """A job to record as succeeded in the claim's first transaction."""

    job_id: UUID
    result: dict[str, Any]


class PgClaims:
    """Claims (and successes) on PostgreSQL; `claimed` rows become the caller's job objects."""

    def __init__(
        self,
        engine: Engine,
        policy: SchedulingPolicy,
        clock: Callable[[], datetime],
        candidates_per_claim: int,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.clock = clock
        self.candidates_per_claim = candidates_per_claim
        self._rankings: dict[str, _Ranking] = {}
        """Per worker id (a worker is one thread): the ranking it is claiming from."""
        self._generation = 0

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection's psycopg side, in autocommit mode: the statements say BEGIN and
        COMMIT themselves, so they can share a pipeline. A failed transaction is rolled back;
        a broken connection is dropped from the pool. Every psycopg error is reported as
        SQLAlchemy's (`OperationalError` for a lost connection, else `DBAPIError`): the one
        family the worker loop retries on."""
        fairy = self.engine.raw_connection()
        conn: psycopg.Connection[Any] = fairy.driver_connection  # type: ignore[assignment]
        try:
            conn.autocommit = True
            yield conn
        except psycopg.OperationalError as exc:
            fairy.invalidate(exc)
            raise OperationalError("queue claim", None, exc) from exc
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                fairy.invalidate(exc)
            else:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
            raise DBAPIError.instance("queue claim", None, exc, psycopg.Error) from exc
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
            raise
        finally:
            if fairy.is_valid:
                with contextlib.suppress(psycopg.Error):
                    conn.autocommit = False  # how SQLAlchemy's other users expect it
            fairy.close()

    def forget(self) -> None:
        """Jobs were queued or requeued in this process: every worker re-reads its ranking."""
        self._generation += 1

    def claim(
        self, worker_id: str, limit: int, success: Success | None = None
    ) -> tuple[bool, list[tuple[Any, ...]]]:
        """Record `success` (if any), then start up to `limit` jobs, best first.

        Returns:
            Whether `success` was recorded (False: this worker no longer held the job), and
            the started jobs' rows (`ClaimedJob` fields).
        """
        claimed: list[tuple[Any, ...]] = []
        ranking = self._rankings.pop(worker_id, None)
        if ranking is not None and not self._fresh(ranking):
            ranking = None
        with self._connection() as conn, conn.pipeline() as pipe:
            now = self.clock()
            done = None
            if success is not None:
                conn.execute("BEGIN")
                params = {
                    "job": success.job_id, "worker": worker_id, "now": now,
                    "result": Json(success.result), "event": Json({"result": success.result}),
                    "cost": success.result.get("cost_usd"),
                }  # fmt: skip
                done = conn.execute(qp.SUCCEED, params, prepare=True)
            in_transaction, reads = success is not None, 0
            while len(claimed) < limit:
                if ranking is None or not ranking.candidates:
                    if reads == READS_PER_CLAIM:
                        break
                    generation, heads = self._generation, self._heads(conn, now)
                    pipe.sync()
                    ranking, reads = self._ranking(heads, now, generation), reads + 1
                    if not ranking.candidates:
                        break
                batch = ranking.candidates[:CLAIM_BATCH]
                now = max(self.clock(), now)  # after the read: never before a finish it saw
                found = self._claim(conn, batch, ranking.versions, worker_id, now)
                if in_transaction:
                    conn.execute("COMMIT")
                    in_transaction = False
                # Another slot to fill: the owner just served may still rank first (a higher
                # class), which only a fresh read shows. Read it in the same round trip.
                generation = self._generation
                more = self._heads(conn, now) if len(claimed) + 1 < limit else None
                pipe.sync()
                row = found.fetchone()
                if row is None:  # every owner in the batch was served or is being served
                    del ranking.candidates[: len(batch)]
                elif row[1] is None:  # the owner's head job was taken or canceled meanwhile
                    ranking.candidates = [c for c in ranking.candidates if c.owner_id != row[0]]
                else:
                    claimed.append(row[1:])
                    ranking.candidates = [c for c in ranking.candidates if c.owner_id != row[0]]
                    if more is not None:
                        ranking = self._ranking(more, now, generation)
            if in_transaction:
                conn.execute("COMMIT")
            pipe.sync()
            recorded = done is None or done.fetchone() is not None
        if ranking is not None and ranking.candidates:
            self._rankings[worker_id] = ranking
        return recorded, claimed

    def _fresh(self, ranking: _Ranking) -> bool:
        age_s = time.monotonic() - ranking.read_at
        return ranking.generation == self._generation and age_s < RANKING_MAX_AGE_S

    def _heads(self, conn: psycopg.Connection[Any], now: datetime) -> psycopg.Cursor[Any]:
        params = {"now": now, "limit": self.candidates_per_claim}
        return conn.execute(qp.HEADS, params, prepare=True)

    def _ranking(self, heads: psycopg.Cursor[Any], now: datetime, generation: int) -> _Ranking:
        """`HEADS`' rows ranked by the policy, with their owners' row versions."""
        rows = heads.fetchall()
        candidates = [
            Candidate(job_id, owner_id, Plan(plan), enqueued_at, running, last_claimed_at)
            for job_id, owner_id, plan, enqueued_at, running, last_claimed_at, _ in rows
        ]
        versions = {row[1]: row[6] for row in rows}
        ranked = rank(candidates, self.policy, now)
        return _Ranking(ranked, versions, time.monotonic(), generation)

    def _claim(
        self,
        conn: psycopg.Connection[Any],
        batch: list[Candidate],
        versions: dict[Any, str],
        worker_id: str,
        now: datetime,
    ) -> psycopg.Cursor[Any]:
        params = {
            "owners": [c.owner_id for c in batch],
            "versions": [versions[c.owner_id] for c in batch],
            "jobs": [c.job_id for c in batch],
            "now": now, "worker": worker_id,
        }  # fmt: skip
        return conn.execute(qp.CLAIM, params, prepare=True)


def insert_job(
    connection: Connection, row: dict[str, Any], event: dict[str, Any], channel: str
) -> bool:
    """`queries_pg.ENQUEUE` in the caller's transaction on `connection`: the job `row` (a
    `queries.job_row`), its `queued` event (`event`: the event's data) and a wake-up on
    `channel`. Sent pipelined: when it is the transaction's first statement, psycopg's BEGIN
    travels with it (one round trip, not two). psycopg's errors are reported as
    SQLAlchemy's, as the ORM's insert reported them (`IntegrityError` for a missing owner).

    Returns:
        False if nothing was added: the owner already used the row's idempotency key.
    """
    fairy = connection.connection
    conn: psycopg.Connection[Any] = fairy.driver_connection  # type: ignore[assignment]
    params = {key: _bindable(value) for key, value in row.items()}
    params |= {"event": Json(event), "channel": channel}
    try:
        with conn.pipeline():
            cursor = conn.execute(qp.ENQUEUE, params, prepare=True)
        return cursor.fetchone() is not None
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            connection.invalidate(exc)
        raise DBAPIError.instance("enqueue", None, exc, psycopg.Error) from exc


def _bindable(value: Any) -> Any:
    """A row value as psycopg binds it: JSON columns as JSON, enums by value (psycopg's own
    enum adapter sends an enum's name)."""
    if isinstance(value, dict | list):
        return Json(value)
    if isinstance(value, Enum):
        return value.value
    return value
