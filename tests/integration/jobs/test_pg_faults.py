"""Fault tests on the real PostgreSQL (issue #22's acceptance), bounded in time: backend
connections terminated during a render, and a job whose worker process is killed on every
attempt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.orm import Session

from reelforge.db.models import Event, JobState
from reelforge.db.session import make_engine
from reelforge.jobs.manager import NOTIFY_CHANNEL, JobManager
from reelforge.jobs.testing import TEST_KINDS
from reelforge.jobs.wakeup import PostgresWaker
from reelforge.jobs.worker import Worker
from reelforge.model.plans import Plan

from ..conftest import emptied_engine
from .test_worker import FAST, add_user, job, submit, wait_for


@pytest.fixture
def observer(pg_url: str) -> Iterator[Engine]:
    """The test's own view of the database: emptied tables, and a pool that checks each
    connection first (the test kills connections, its own pooled ones included)."""
    for engine in emptied_engine(pg_url):
        engine.dispose()
    engine = make_engine(pg_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


def terminate_backends(pg_url: str) -> int:
    """`pg_terminate_backend` every other connection to the test database (what a failover
    or an operator does): returns how many were killed."""
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def started_events(engine: Engine, job_id: object) -> int:
    with Session(engine) as session:
        kinds = session.scalars(select(Event.type).where(Event.job_id == job_id)).all()
    return sum(kind == "started" for kind in kinds)


def test_backends_terminated_during_a_render_the_workers_carry_on_and_the_job_runs_once(
    pg_url: str, observer: Engine, tmp_path: Path
) -> None:
    """A database restart used to kill every PostgreSQL worker (the LISTEN connection raised
    an error the loop did not catch); a heartbeat error other than `OperationalError` stopped
    heartbeats for good."""
    worker_engine = make_engine(pg_url)
    manager = JobManager(worker_engine)
    user = add_user(observer, Plan.PRO)
    output = tmp_path / "output.txt"
    job_id = submit(manager, user, "sleep", seconds=3, output=str(output))
    workers = [Worker(manager, TEST_KINDS, timings=FAST) for _ in range(2)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: job(observer, job_id).state == JobState.RUNNING)
        killed = 0
        for _ in range(4):  # the heartbeat, the LISTEN connections, the pool: all of them
            killed += terminate_backends(pg_url)
            time.sleep(0.4)
        assert killed >= 4  # at least each worker's LISTEN connection, twice
        wait_for(lambda: job(observer, job_id).state == JobState.SUCCEEDED, timeout_s=30)
        assert output.read_text().splitlines() == [f"{job_id} attempt 1"]
        assert started_events(observer, job_id) == 1
        assert all(thread.is_alive() for thread in threads)
        following = submit(manager, user, "noop")  # the workers still claim new jobs
        wait_for(lambda: job(observer, following).state == JobState.SUCCEEDED, timeout_s=30)
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(15)
        worker_engine.dispose()
    assert not any(thread.is_alive() for thread in threads)


class WebhookReceiver:
    """A local HTTP server standing in for the admin alert endpoint."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self._server = HTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self._server.server_port}/alerts"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_job_whose_worker_is_killed_on_every_attempt_fails_as_a_system_error_with_an_alert(
    pg_url: str, observer: Engine, tmp_path: Path
) -> None:
    """It was requeued forever (attempts 6 of 3). Now, after `max_attempts` deaths, the reaper
    fails it: class `system`, the stage it was in, and the admin webhook is called."""
    hook = WebhookReceiver()
    manager = JobManager(observer)
    job_id = submit(manager, add_user(observer, Plan.FREE), "sleep", seconds=60)
    env = {
        **os.environ, "REELFORGE_DATABASE_URL": pg_url, "REELFORGE_DATA_DIR": str(tmp_path),
        "REELFORGE_ADMIN_WEBHOOK_URL": hook.url,
    }  # fmt: skip
    command = [
        sys.executable, "-m", "tests.support.worker", "--stale-after", "2", "--reap-every", "0.5",
        "--heartbeat", "0.2",
    ]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for attempt in (1, 2, 3):
            processes.append(subprocess.Popen(command, env=env))
            wait_for(
                lambda a=attempt: (
                    (found := job(observer, job_id)).attempts == a  # type: ignore[misc]
                    and found.state == JobState.RUNNING
                    and found.stage == "sleep"
                ),
                timeout_s=30,
            )
            processes[-1].send_signal(signal.SIGKILL)
            processes[-1].wait(10)
        processes.append(subprocess.Popen(command, env=env))  # it reaps the dead one's job
        wait_for(lambda: job(observer, job_id).state == JobState.FAILED, timeout_s=30)
        wait_for(lambda: hook.received, timeout_s=10)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(30)
        hook.close()
    found = job(observer, job_id)
    assert (found.error_class, found.error_stage, found.attempts) == ("system", "sleep", 3)
    assert found.error_message is not None and "stopped responding" in found.error_message
    assert hook.received == [
        {"event": "system_error", "job_id": str(job_id), "message": found.error_message,
         "stage": "sleep"}
    ]  # fmt: skip
    assert processes[-1].returncode == 0


def test_the_listen_connection_comes_back_after_its_backend_is_terminated(
    pg_url: str, observer: Engine
) -> None:
    """It raised an error the worker loop did not catch, and never reconnected."""
    waker = PostgresWaker(observer)
    try:
        waker.wait(0.05)  # connected and listening
        assert terminate_backends(pg_url) >= 1
        waker.wait(0.2)  # notices the broken connection: no error
        woken = threading.Event()
        waiter = threading.Thread(target=lambda: (waker.wait(60), woken.set()), daemon=True)
        waiter.start()
        stop = threading.Event()

        def notify_until_woken() -> None:  # an enqueue elsewhere, repeated until heard
            while not stop.wait(0.2):
                with observer.begin() as conn:
                    conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))

        notifier = threading.Thread(target=notify_until_woken, daemon=True)
        notifier.start()
        waiter.join(30)
        stop.set()
        notifier.join(10)
        assert woken.is_set()  # woken by a NOTIFY, long before its 60 s timeout
    finally:
        waker.close()
