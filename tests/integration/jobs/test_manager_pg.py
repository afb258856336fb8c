"""PostgreSQL's claim fast path (`manager_pg.py`, `queries_pg.py`): its statements prepare
against the migrated schema, and a ranking read earlier never breaks a guarantee."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from reelforge.db.models import JobState, RenderJob
from reelforge.jobs import manager_pg
from reelforge.jobs import queries_pg as qp
from reelforge.jobs.manager import JobManager
from reelforge.jobs.retry import ErrorClass
from reelforge.model.plans import Plan

from ..conftest import emptied_engine
from .test_manager import Clock, add_user, state, submit


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """Emptied tables on the PostgreSQL test database (the fast path is PostgreSQL's only)."""
    yield from emptied_engine(pg_url)


@pytest.fixture
def long_rankings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rankings stay usable for a minute: the tests decide when they are stale."""
    monkeypatch.setattr(manager_pg, "RANKING_MAX_AGE_S", 60.0)


def running(engine: Engine, owner_id: UUID) -> int:
    with Session(engine) as session:
        return (
            session.scalar(
                select(func.count()).where(
                    RenderJob.owner_id == owner_id, RenderJob.state == JobState.RUNNING
                )
            )
            or 0
        )


PARAMETER = re.compile(r"%\((\w+)\)[sb]")


@pytest.mark.parametrize("name", ["HEADS", "CLAIM", "SUCCEED", "ENQUEUE"])
def test_each_statement_prepares_against_the_schema(pg_engine: Engine, name: str) -> None:
    """A server-side PREPARE checks every table, column, function and type a statement names."""
    numbers: dict[str, str] = {}
    sql = PARAMETER.sub(
        lambda m: numbers.setdefault(m[1], f"${len(numbers) + 1}"), getattr(qp, name)
    )
    fairy = pg_engine.raw_connection()
    try:
        conn: psycopg.Connection[object] = fairy.driver_connection  # type: ignore[assignment]
        conn.execute(f"PREPARE check_statement AS {sql}")
        conn.execute("DEALLOCATE check_statement")
    finally:
        fairy.rollback()
        fairy.close()


def test_a_ranking_read_before_another_workers_start_never_exceeds_the_limit(
    pg_engine: Engine, long_rankings: None
) -> None:
    """Worker a's ranking holds a free user's older job x; meanwhile b (whose clock still sees
    x in its retry backoff) starts that user's job y. a must not start x: the user's row changed
    since a read it, so a's running count for them is stale."""
    engine = pg_engine
    late, early = Clock(), Clock()
    late.advance(3)  # a sees x's retry backoff (1-2 s) over; b does not
    a, b = JobManager(engine, clock=late), JobManager(engine, clock=early)
    free, pro = add_user(engine, Plan.FREE), add_user(engine, Plan.PRO)
    x, y = submit(b, free, 2)
    [job] = b.claim("b")
    assert job.id == x
    decision = b.fail(x, "b", ErrorClass.PROVIDER, "503", "voice", job.attempts, 3)
    assert decision is not None and decision.retry
    [p1] = submit(a, pro)
    [first] = a.claim("a")  # pro first; the free user's x stays in a's ranking
    assert first.id == p1
    [started] = b.claim("b")
    assert started.id == y and running(engine, free.id) == 1
    assert a.claim("a") == []
    assert running(engine, free.id) == 1
    assert state(engine, x).state == JobState.QUEUED


def test_an_owner_served_by_another_worker_goes_to_the_back_of_a_stale_ranking(
    pg_engine: Engine, long_rankings: None
) -> None:
    engine = pg_engine
    clock = Clock()
    a, b = JobManager(engine, clock=clock), JobManager(engine, clock=clock)
    users = [add_user(engine, Plan.ENTERPRISE) for _ in range(3)]
    for user in users:
        submit(a, user, 2)
        clock.advance(1)
    assert [j.owner_id for j in a.claim("a")] == [users[0].id]  # ranking: users 1, 2 left
    assert [j.owner_id for j in b.claim("b")] == [users[1].id]
    # a's ranking still lists users[1] first, but they were just served: users[2] is next.
    assert [j.owner_id for j in a.claim("a")] == [users[2].id]


def test_a_ranking_is_re_read_when_this_process_queues_a_job(
    pg_engine: Engine, long_rankings: None
) -> None:
    engine = pg_engine
    clock = Clock()
    manager = JobManager(engine, clock=clock)
    free = add_user(engine, Plan.FREE)
    submit(manager, add_user(engine, Plan.FREE))
    submit(manager, free)
    manager.claim("w")  # the ranking left holds the second free user
    [pro_job] = submit(manager, add_user(engine, Plan.PRO))
    assert [j.id for j in manager.claim("w")] == [pro_job]


def test_claims_after_the_ranking_expires_see_jobs_queued_elsewhere(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pg_engine
    clock = Clock()
    a, b = JobManager(engine, clock=clock), JobManager(engine, clock=clock)
    for _ in range(2):
        submit(a, add_user(engine, Plan.FREE))
    a.claim("a")  # the ranking left holds the second free user
    [pro_job] = submit(b, add_user(engine, Plan.PRO))  # another process: a is not told
    monkeypatch.setattr(manager_pg, "RANKING_MAX_AGE_S", 0.0)
    assert [j.id for j in a.claim("a")] == [pro_job]


def test_a_failed_claim_rolls_back_its_success_and_leaves_the_connection_usable(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = JobManager(pg_engine, clock=Clock())
    first, second = submit(manager, add_user(pg_engine, Plan.PRO), 2)
    manager.claim("w")
    with monkeypatch.context() as patch:
        patch.setattr(qp, "CLAIM", "SELECT no_such_column FROM users")
        with pytest.raises(ProgrammingError) as raised:  # SQLAlchemy's, as the worker expects
            manager.succeed_and_claim(first, "w", {})
        assert isinstance(raised.value.orig, psycopg.errors.UndefinedColumn)
    assert state(pg_engine, first).state == JobState.RUNNING  # one transaction: all or nothing
    recorded, [following] = manager.succeed_and_claim(first, "w", {})
    assert recorded and following.id == second
    assert state(pg_engine, first).state == JobState.SUCCEEDED
