"""The cluster's dependencies fail under it — PostgreSQL refuses connections, Redis dies, S3
dies mid-render, the workers' disk fills — and what users see stays right: a 503 with
Retry-After while the database is away and recovery without a restart, sign-in closed but
everything else open without Redis, a render that waits (never "done" without its file)
until S3 is back, and a full disk reported as a system error with an admin alert."""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.support.cluster import (
    FINISHED,
    Cluster,
    assert_playable,
    job_events,
    render_settings,
    render_status,
    running_cluster,
    sign_up,
    submit,
    wait_for,
)
from tests.support.seaweed import free_ports
from tests.support.stubs.base import StubResponse, StubServer

pytestmark = pytest.mark.slow
SETTINGS = render_settings(12)
PROMPT = (
    "Honeybees dance to share where flowers are. The angle of the dance points to the food. "
    "Its length tells the distance. A colony can hold fifty thousand bees. Each one visits "
    "hundreds of flowers a day."
)
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, Callable[[], Callable[[], None]]]]:
    """A Redis of the test's own (the machine's is shared): its URL, and `stop()`, which
    returns `start()`."""
    (port,) = free_ports(1)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]  # fmt: skip
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL)]

    def stop() -> Callable[[], None]:
        procs[-1].kill()
        procs[-1].wait(10)
        return lambda: procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))

    wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                    capture_output=True).returncode == 0, "redis")  # fmt: skip
    try:
        yield f"redis://127.0.0.1:{port}/0", stop
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Callable]]:  # type: ignore[type-arg]
    with redis_server() as (redis_url, stop_redis):
        run = tmp_path_factory.mktemp("faults") / "run"
        with running_cluster(run, api=2, workers=1, redis_url=redis_url) as started:
            yield started, stop_redis


def job_row(cluster: Cluster, render_id: str) -> dict[str, object]:
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT state, attempts, error_class, error_stage, error_message "
                     "FROM render_jobs WHERE id = :id"), {"id": uuid.UUID(render_id)},
            ).one()  # fmt: skip
        return dict(row._mapping) | {"events": job_events(cluster, render_id)}
    finally:
        engine.dispose()


def assert_done_once_and_playable(
    cluster: Cluster, headers: dict[str, str], render_id: str
) -> None:
    wait_for(lambda: render_status(cluster, headers, render_id)["status"] in FINISHED, "render")
    status = render_status(cluster, headers, render_id)
    assert status["status"] == "succeeded", status
    events = job_row(cluster, render_id)["events"]
    assert isinstance(events, list)
    assert events.count("succeeded") == 1 and events.count("queued") == 1, events
    assert_playable(cluster, headers, status)


def test_a_database_outage_answers_503_with_retry_after_and_heals_by_itself(
    cluster: tuple[Cluster, object],
) -> None:
    topology, _ = cluster
    headers = sign_up(topology.url)
    render_id = submit(topology.url, headers, SETTINGS, PROMPT)
    wait_for(lambda: job_row(topology, render_id)["state"] == "running", "the render to start")
    database = make_url(topology.database_url).database
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # the database goes away: no new or open connection
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :db"), {"db": database})  # fmt: skip
        refused: list[httpx.Response] = []
        wait_for(lambda: refused.append(
            httpx.get(f"{topology.url}/api/v1/projects", headers=headers, timeout=10)
        ) or refused[-1].status_code == 503, "a 503 while the database is away", 30)  # fmt: skip
        assert refused[-1].headers["retry-after"] == "5"
        assert refused[-1].json()["type"] == "urn:reelforge:problem:database-unavailable"
        assert all(r.status_code in (200, 503) for r in refused), [r.text for r in refused]
        for replica in topology.api_urls:  # each says it is not ready; the balancer passes
            assert httpx.get(f"{replica}/api/v1/readyz", timeout=10).status_code == 503
        again = httpx.get(f"{topology.url}/api/v1/projects", headers=headers, timeout=10)
        assert again.status_code == 503, again.text  # not a 502: replicas are not marked down
        time.sleep(3)  # an outage of a few seconds, while the render runs
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    projects = f"{topology.url}/api/v1/projects"
    wait_for(lambda: httpx.get(projects, headers=headers, timeout=10).status_code == 200,
             "the API to recover", 60)  # fmt: skip
    assert_done_once_and_playable(topology, headers, render_id)


def test_without_redis_sign_in_is_closed_and_everything_else_works(
    cluster: tuple[Cluster, Callable[[], Callable[[], None]]],
) -> None:
    topology, stop_redis = cluster
    headers = sign_up(topology.url)
    email, password = f"late-{uuid.uuid4().hex[:8]}@example.org", f"Rf-{uuid.uuid4().hex}!"
    start_redis = stop_redis()
    try:
        for _ in range(4):  # both replicas, reads and writes
            listed = httpx.get(f"{topology.url}/api/v1/projects", headers=headers, timeout=10)
            assert listed.status_code == 200, listed.text
        render_id = submit(topology.url, headers, SETTINGS, PROMPT)
        register = httpx.post(f"{topology.url}/api/v1/auth/register",
                              json={"email": email, "password": password}, timeout=10)  # fmt: skip
        assert register.status_code == 503
        assert register.json()["type"] == "urn:reelforge:problem:storage-unavailable"
        assert_done_once_and_playable(topology, headers, render_id)
    finally:
        start_redis()
    account = {"email": email, "password": password}
    register_url = f"{topology.url}/api/v1/auth/register"
    wait_for(lambda: httpx.post(register_url, json=account, timeout=10).status_code == 201,
             "sign-up to reopen", 30)  # fmt: skip


def test_s3_down_during_a_render_waits_for_it_and_is_never_done_without_its_file(
    cluster: tuple[Cluster, object],
) -> None:
    """The render finishes while S3 is away: it keeps its files and waits at `publish`
    (no failed attempt, no re-render), then uploads when S3 is back."""
    topology, _ = cluster
    headers = sign_up(topology.url)
    render_id = submit(topology.url, headers, SETTINGS, PROMPT)
    wait_for(lambda: job_row(topology, render_id)["state"] == "running", "the render to start")
    restart_s3 = topology.kill("s3")
    try:
        wait_for(lambda: render_status(topology, headers, render_id)["stage"] == "publish",
                 "the render to reach its upload")  # fmt: skip
        time.sleep(8)  # S3 stays away for longer than an upload's own retries take
        waiting = render_status(topology, headers, render_id)
        assert (waiting["status"], waiting["stage"]) == ("running", "publish"), waiting
    finally:
        restart_s3()
    assert_done_once_and_playable(topology, headers, render_id)
    assert job_row(topology, render_id)["attempts"] == 1


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A size-limited file system (tmpfs) at `folder`: the machine's disk stays untouched."""
    folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                   check=True)  # fmt: skip
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def test_a_full_worker_disk_is_a_system_error_with_an_alert_and_nothing_served(
    tmp_path: Path,
) -> None:
    alerts = StubServer({("POST", r"/alerts"): lambda request, match: StubResponse(200, json={})})
    run = tmp_path / "run"
    with alerts, small_disk(run / "worker-1", "1m"):
        env = {"REELFORGE_ADMIN_WEBHOOK_URL": f"{alerts.url}/alerts"}
        with running_cluster(run, api=1, workers=1, env=env) as topology:
            headers = sign_up(topology.url)
            render_id = submit(topology.url, headers, SETTINGS, PROMPT)
            wait_for(lambda: render_status(topology, headers, render_id)["status"] in FINISHED,
                     "the render to end")  # fmt: skip
            status = render_status(topology, headers, render_id)
            video = httpx.get(f"{topology.url}/api/v1/renders/{render_id}/video",
                              headers=headers, timeout=10)  # fmt: skip
    assert status["status"] == "failed" and status["links"] is None, status
    error = status["error"]
    assert isinstance(error, dict) and error["error_class"] == "system" and error["stage"]
    assert "space" in str(error["message"]).lower(), error
    assert video.status_code in (404, 409), video.text  # nothing half-written is served
    received = [r.json() for r in alerts.matching("POST", "/alerts")]
    assert received and all(a["job_id"] == render_id for a in received)
    assert {a["event"] for a in received} == {"system_error"}
