"""The queue on SQLite and the real PostgreSQL: order, fairness, limits, retries, cancel, reap."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import MappingProxyType
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from reelforge.db.models import Event, JobState, ProductEvent, RenderJob, User
from reelforge.jobs.alerts import WebhookAlert
from reelforge.jobs.manager import JobManager, KeyTaken, NewJob
from reelforge.jobs.policy import DEFAULT_CONCURRENCY, SchedulingPolicy
from reelforge.jobs.retry import ErrorClass
from reelforge.model.plans import Plan


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manager(engine: Engine, clock: Clock) -> JobManager:
    return JobManager(engine, clock=clock)


def add_user(engine: Engine, plan: Plan, *, admin: bool = False) -> User:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        user = User(email=f"{uuid4().hex}@x.test", plan=plan, is_admin=admin)
        session.add(user)
    return user


def submit(manager: JobManager, user: User, n: int = 1, **kwargs: object) -> list[UUID]:
    ids = []
    with Session(manager.engine) as session, session.begin():
        for _ in range(n):
            ids.append(manager.enqueue(session, user, kind="noop", **kwargs).id)  # type: ignore[arg-type]
    return ids


def state(engine: Engine, job_id: UUID) -> RenderJob:
    with Session(engine) as session:
        job = session.get(RenderJob, job_id)
        assert job is not None
        return job


def events(engine: Engine, job_id: UUID) -> list[str]:
    with Session(engine) as session:
        return list(
            session.scalars(select(Event.type).where(Event.job_id == job_id).order_by(Event.id))
        )


def test_a_submitted_job_is_claimed_once_and_succeeds(engine: Engine, manager: JobManager) -> None:
    user = add_user(engine, Plan.FREE)
    [job_id] = submit(manager, user)
    [job] = manager.claim("w1")
    assert job.id == job_id and job.attempts == 1
    assert manager.claim("w2") == []
    assert manager.succeed(job_id, "w1", {"video": "v.mp4"})
    assert state(engine, job_id).state == JobState.SUCCEEDED
    assert events(engine, job_id) == ["queued", "started", "succeeded"]


def test_higher_plans_go_first(engine: Engine, manager: JobManager, clock: Clock) -> None:
    order = [Plan.FREE, Plan.BASIC, Plan.PRO]
    jobs = {}
    for plan in order:
        jobs[plan] = submit(manager, add_user(engine, plan))[0]
        clock.advance(1)
    claimed = [manager.claim("w")[0].id for _ in order]
    assert claimed == [jobs[Plan.PRO], jobs[Plan.BASIC], jobs[Plan.FREE]]


def test_a_waiting_free_job_ages_past_new_pro_jobs(
    engine: Engine, manager: JobManager, clock: Clock
) -> None:
    [free_job] = submit(manager, add_user(engine, Plan.FREE))
    clock.advance(2 * manager.policy.ageing_s + 1)
    submit(manager, add_user(engine, Plan.PRO))
    assert manager.claim("w")[0].id == free_job


def test_users_of_one_class_take_turns(engine: Engine, clock: Clock) -> None:
    roomy = SchedulingPolicy(concurrency=MappingProxyType({**DEFAULT_CONCURRENCY, Plan.BASIC: 10}))
    manager = JobManager(engine, roomy, clock=clock)
    alice, bob = add_user(engine, Plan.BASIC), add_user(engine, Plan.BASIC)
    submit(manager, alice, 3)
    clock.advance(1)
    submit(manager, bob, 3)
    owners = []
    for _ in range(6):
        clock.advance(1)
        owners.append(manager.claim("w")[0].owner_id)
    assert owners == [alice.id, bob.id] * 3


def test_per_user_limit_by_plan(engine: Engine, manager: JobManager) -> None:
    free, basic = add_user(engine, Plan.FREE), add_user(engine, Plan.BASIC)
    submit(manager, free, 3)
    submit(manager, basic, 3)
    claimed = manager.claim("w", limit=10)
    per_owner = {o: sum(j.owner_id == o for j in claimed) for o in (free.id, basic.id)}
    assert per_owner == {free.id: 1, basic.id: 2}


def test_provider_errors_retry_with_backoff_then_fail(
    engine: Engine, manager: JobManager, clock: Clock
) -> None:
    [job_id] = submit(manager, add_user(engine, Plan.PRO))
    delays = []
    for attempt in (1, 2, 3):
        [job] = manager.claim("w")
        assert job.attempts == attempt
        decision = manager.fail(job.id, "w", ErrorClass.PROVIDER, "503 from TTS", "voice",
                                job.attempts, job.max_attempts)  # fmt: skip
        assert decision is not None
        if attempt < 3:
            assert decision.retry
            assert manager.claim("w") == []  # not before the backoff delay
            delays.append(decision.delay_s)
            clock.advance(decision.delay_s + 0.01)
    assert not decision.retry
    job = state(engine, job_id)
    assert job.state == JobState.FAILED and job.attempts == 3
    assert (job.error_class, job.error_stage) == ("provider", "voice")
    assert 1.0 <= delays[0] <= 2.0 and 2.0 <= delays[1] <= 4.0
    assert events(engine, job_id).count("retrying") == 2


def test_validation_errors_fail_at_once(engine: Engine, manager: JobManager) -> None:
    [job_id] = submit(manager, add_user(engine, Plan.PRO))
    [job] = manager.claim("w")
    decision = manager.fail(job.id, "w", ErrorClass.VALIDATION, "file not found: a.png", "input",
                            job.attempts, job.max_attempts)  # fmt: skip
    assert decision is not None and not decision.retry
    assert state(engine, job_id).state == JobState.FAILED
    assert state(engine, job_id).error_message == "file not found: a.png"


def test_system_errors_retry_once_and_notify_admins(
    engine: Engine, manager: JobManager, clock: Clock
) -> None:
    admin = add_user(engine, Plan.FREE, admin=True)
    [job_id] = submit(manager, add_user(engine, Plan.PRO))
    for expect_retry in (True, False):
        [job] = manager.claim("w")
        decision = manager.fail(job.id, "w", ErrorClass.SYSTEM, "disk full", "compose",
                                job.attempts, job.max_attempts)  # fmt: skip
        assert decision is not None and decision.retry is expect_retry
        clock.advance(60)
    with Session(engine) as session:
        notices = session.scalar(
            select(func.count()).where(Event.user_id == admin.id, Event.type == "system_error")
        )
    assert notices == 2
    assert state(engine, job_id).state == JobState.FAILED


def test_cancel_a_queued_job_at_once_and_a_running_one_via_its_worker(
    engine: Engine, manager: JobManager
) -> None:
    user = add_user(engine, Plan.BASIC)
    running_id, queued_id = submit(manager, user, 2)
    [job] = manager.claim("w")
    assert job.id == running_id
    assert manager.cancel(queued_id, user.id) == JobState.QUEUED
    assert state(engine, queued_id).state == JobState.CANCELED
    assert manager.cancel(running_id, user.id) == JobState.RUNNING
    assert manager.heartbeat(running_id, "w") is True
    assert manager.canceled(running_id, "w")
    assert state(engine, running_id).state == JobState.CANCELED


def test_another_users_job_cannot_be_canceled(engine: Engine, manager: JobManager) -> None:
    [job_id] = submit(manager, add_user(engine, Plan.FREE))
    assert manager.cancel(job_id, add_user(engine, Plan.FREE).id) is None
    assert state(engine, job_id).state == JobState.QUEUED


def test_a_dead_workers_job_is_requeued_and_its_late_reports_ignored(
    engine: Engine, manager: JobManager, clock: Clock
) -> None:
    [job_id] = submit(manager, add_user(engine, Plan.FREE))
    manager.claim("dead")
    clock.advance(5)
    assert manager.reap(stale_after_s=10) == []
    clock.advance(10)
    assert [r.id for r in manager.reap(stale_after_s=10)] == [job_id]
    assert manager.heartbeat(job_id, "dead") is None
    assert not manager.succeed(job_id, "dead", {})
    [job] = manager.claim("alive")
    assert job.id == job_id and job.attempts == 2
    assert manager.succeed(job_id, "alive", {})
    assert events(engine, job_id) == ["queued", "started", "requeued", "started", "succeeded"]


def test_release_gives_the_attempt_back(engine: Engine, manager: JobManager) -> None:
    [job_id] = submit(manager, add_user(engine, Plan.FREE))
    manager.claim("w")
    assert manager.release(job_id, "w")
    job = state(engine, job_id)
    assert (job.state, job.attempts, job.worker_id) == (JobState.QUEUED, 0, None)


def test_a_job_whose_worker_keeps_dying_fails_as_a_system_error_after_max_attempts(
    engine: Engine, clock: Clock
) -> None:
    """Issue #22: the reaper requeued such a job forever (seen: attempts 6 of max 3)."""
    alerts: list[tuple[object, ...]] = []
    manager = JobManager(engine, clock=clock, on_system_error=lambda *a: alerts.append(a))
    admin = add_user(engine, Plan.PRO, admin=True)
    [job_id] = submit(manager, add_user(engine, Plan.PRO), max_attempts=3)
    for attempt in range(1, 4):
        [job] = manager.claim(f"doomed-{attempt}")
        assert job.attempts == attempt
        manager.heartbeat(job_id, f"doomed-{attempt}", progress=0.5, stage="compose")
        clock.advance(30)
        [reaped] = manager.reap(stale_after_s=10)
        assert reaped.failed == (attempt == 3)
    found = state(engine, job_id)
    assert (found.state, found.attempts, found.error_class) == (JobState.FAILED, 3, "system")
    assert found.error_stage == "compose" and found.worker_id is None
    assert found.error_message is not None and "stopped responding" in found.error_message
    assert manager.claim("another") == []
    assert alerts == [(job_id, found.error_message, "compose")]
    with Session(engine) as session:
        notified = session.scalars(select(Event.type).where(Event.user_id == admin.id)).all()
    assert notified == ["system_error"]
    history = [e for e in events(engine, job_id) if e not in ("progress", "system_error")]
    assert history == ["queued", *["started", "requeued"] * 2, "started", "failed"]


def test_progress_heartbeats_write_stage_events(engine: Engine, manager: JobManager) -> None:
    [job_id] = submit(manager, add_user(engine, Plan.FREE))
    manager.claim("w")
    assert manager.heartbeat(job_id, "w", progress=0.4, stage="voice") is False
    assert manager.heartbeat(job_id, "w") is False
    job = state(engine, job_id)
    assert (job.progress, job.stage) == (0.4, "voice")
    assert events(engine, job_id) == ["queued", "started", "progress"]


def test_system_errors_reach_the_admin_webhook(engine: Engine, clock: Clock) -> None:
    received: list[dict[str, object]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    alerts: list[threading.Thread] = []
    hook = WebhookAlert(f"http://127.0.0.1:{server.server_port}/alerts")
    manager = JobManager(engine, clock=clock, on_system_error=lambda *a: alerts.append(hook(*a)))
    [job_id] = submit(manager, add_user(engine, Plan.PRO))
    [job] = manager.claim("w")
    manager.fail(job.id, "w", ErrorClass.SYSTEM, "disk full", "compose", 1, 3)
    for thread in alerts:
        thread.join(5)
    server.shutdown()
    assert received == [
        {"event": "system_error", "job_id": str(job_id), "message": "disk full", "stage": "compose"}
    ]


def test_succeed_and_claim_records_the_success_then_starts_the_next(
    engine: Engine, manager: JobManager
) -> None:
    user = add_user(engine, Plan.PRO)
    first, second, third = submit(manager, user, 3)
    [job] = manager.claim("w")
    recorded, [following] = manager.succeed_and_claim(job.id, "w", {"video": "v.mp4"})
    assert recorded and following.id == second and following.attempts == 1
    assert state(engine, first).state == JobState.SUCCEEDED
    assert state(engine, first).result == {"video": "v.mp4"}
    assert events(engine, first) == ["queued", "started", "succeeded"]
    assert events(engine, second) == ["queued", "started"]
    assert manager.succeed_and_claim(following.id, "w", {}, limit=0) == (True, [])
    assert state(engine, third).state == JobState.QUEUED


def test_succeed_and_claim_of_a_lost_job_records_nothing_but_still_claims(
    engine: Engine, manager: JobManager, clock: Clock
) -> None:
    user = add_user(engine, Plan.PRO)
    lost, waiting = submit(manager, user, 2)
    manager.claim("dead")
    clock.advance(30)
    assert [r.id for r in manager.reap(stale_after_s=10)] == [lost]
    recorded, claimed = manager.succeed_and_claim(lost, "dead", {})
    assert not recorded and [j.id for j in claimed] == [lost]
    assert state(engine, lost).worker_id == "dead" and state(engine, lost).attempts == 2
    assert state(engine, waiting).state == JobState.QUEUED


def test_succeed_and_claim_keeps_the_per_user_limit(engine: Engine, manager: JobManager) -> None:
    free = add_user(engine, Plan.FREE)
    submit(manager, free, 3)
    [job] = manager.claim("w")
    assert manager.claim("w2") == []  # free plan: one at a time
    recorded, [following] = manager.succeed_and_claim(job.id, "w", {}, limit=3)
    assert recorded and following.owner_id == free.id
    assert manager.claim("w2") == []


def test_enqueue_many_queues_in_order_with_events(engine: Engine, manager: JobManager) -> None:
    alice, bob = add_user(engine, Plan.PRO), add_user(engine, Plan.FREE)
    new = [NewJob(alice, kind="noop"), NewJob(bob, kind="noop", payload={"n": 1})]
    with Session(engine) as session, session.begin():
        ids = manager.enqueue_many(session, [*new, NewJob(alice, kind="noop", max_attempts=1)])
        assert manager.enqueue_many(session, []) == []
    jobs = [state(engine, job_id) for job_id in ids]
    assert [j.owner_id for j in jobs] == [alice.id, bob.id, alice.id]
    assert [j.plan for j in jobs] == [Plan.PRO, Plan.FREE, Plan.PRO]
    assert jobs[1].payload == {"n": 1} and jobs[2].max_attempts == 1
    assert jobs[0].enqueued_at < jobs[1].enqueued_at < jobs[2].enqueued_at
    assert all(events(engine, job_id) == ["queued"] for job_id in ids)
    claimed = manager.claim("w", limit=3)
    assert [j.id for j in claimed] == [ids[0], ids[2], ids[1]]  # pro (limit 4) first


def test_enqueue_returns_the_row_as_stored_and_keeps_idempotency_keys(
    engine: Engine, manager: JobManager
) -> None:
    """The job `enqueue` hands back is not reloaded: every attribute must be the row's. A key
    the owner already used adds nothing (no job, no event); another owner may use it."""
    alice, bob = add_user(engine, Plan.PRO), add_user(engine, Plan.FREE)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        job = manager.enqueue(session, alice, kind="noop", payload={"n": 1}, idempotency_key="k")
        assert session.get(RenderJob, job.id) is job  # in the session, as if loaded
    stored = state(engine, job.id)
    for column in RenderJob.__table__.columns:
        assert getattr(job, column.key) == getattr(stored, column.key), column.key
    with Session(engine) as session, session.begin(), pytest.raises(KeyTaken):
        manager.enqueue(session, alice, kind="noop", idempotency_key="k")
    with Session(engine) as session:
        keyed = select(func.count()).where(RenderJob.idempotency_key == "k")
        assert session.scalar(keyed) == 1
        assert session.scalar(select(func.count()).select_from(Event)) == 1
    [other] = submit(manager, bob, idempotency_key="k")
    assert events(engine, other) == ["queued"]


def test_render_outcomes_are_product_facts_beside_their_events(
    engine: Engine, manager: JobManager, clock: Clock
) -> None:
    """A success (by `succeed_and_claim`, PostgreSQL's one round trip included) carries its
    cost and plan; a final failure its plan; a retry and a test job's outcome are no fact."""
    user = add_user(engine, Plan.PRO)
    with Session(engine) as session, session.begin():
        renders = [manager.enqueue(session, user).id for _ in range(3)]
    [noop] = submit(manager, user)
    [job] = manager.claim("w")
    manager.succeed_and_claim(job.id, "w", {"cost_usd": 0.25}, limit=0)
    [job] = manager.claim("w")
    manager.fail(job.id, "w", ErrorClass.PROVIDER, "503", "voice", 1, 3)  # retried: no fact
    [job] = manager.claim("w")
    manager.fail(job.id, "w", ErrorClass.VALIDATION, "bad", "input", 1, 3)
    clock.advance(60)  # past the retry's backoff
    while claimed := manager.claim("w"):
        manager.succeed(claimed[0].id, "w", {"cost_usd": 9.0})
    with Session(engine) as session:
        facts = session.execute(
            select(ProductEvent.kind, ProductEvent.subject_id, ProductEvent.value,
                   ProductEvent.label).order_by(ProductEvent.id)
        ).all()  # fmt: skip
    assert [tuple(f) for f in facts] == [
        ("render_succeeded", renders[0], 0.25, "pro"),
        ("render_failed", renders[2], None, "pro"),
        ("render_succeeded", renders[1], 9.0, "pro"),
    ]
    assert noop not in {f.subject_id for f in facts}
