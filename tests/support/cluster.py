"""The `make cluster` topology for tests: started in a temporary run folder on a database of
its own, with a few helpers to act as its users and to wait for and check their renders;
stopped (and the database dropped) after."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
from deploy.cluster import alive
from sqlalchemy import create_engine, text

from tests.support.debian import debian_binary
from tests.support.seaweed import free_ports

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = os.environ.get("REELFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("REELFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
FINISHED = ("succeeded", "failed", "canceled")
TIMEOUT_S = 300.0
"""How long a fault test waits for a render (or anything else) before it fails."""


def render_settings(target_duration_s: int) -> dict[str, object]:
    """Small, quick renders: 480p, no music."""
    return {
        "resolution": "480p",
        "target_duration_s": target_duration_s,
        "music": {"enabled": False},
    }


@dataclass(frozen=True, slots=True)
class Cluster:
    run: Path
    url: str
    """The balancer (nginx)."""
    api_urls: list[str]
    database_url: str

    def pid(self, name: str) -> int:
        """The PID of one process `up` started: `api-1`, `worker-2`, `s3`…"""
        return int((self.run / "pids" / f"{name}.pid").read_text())

    def kill(self, name: str) -> Callable[[], None]:
        """SIGKILL process `name` (its whole group) and return how to start it again exactly
        as it ran — command, environment, folder — for faults that heal."""
        pid = self.pid(name)
        proc = Path(f"/proc/{pid}")
        argv = proc.joinpath("cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        env = dict(
            entry.split(b"=", 1) for entry in proc.joinpath("environ").read_bytes().split(b"\0")
            if b"=" in entry
        )  # fmt: skip
        cwd = (proc / "cwd").readlink()
        os.killpg(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)

        def restart() -> None:
            with (self.run / "logs" / f"{name}.log").open("ab") as log:
                again = subprocess.Popen(
                    argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            (self.run / "pids" / f"{name}.pid").write_text(str(again.pid))  # for `down`

        return restart

    def pids(self) -> list[int]:
        found = [int(p.read_text()) for p in (self.run / "pids").glob("*.pid")]
        nginx = self.run / "nginx.pid"
        return found + ([int(nginx.read_text())] if nginx.is_file() else [])


def cluster_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.cluster", *args], cwd=ROOT, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip


@contextlib.contextmanager
def running_cluster(
    run: Path, *, api: int = 2, workers: int = 2, env: dict[str, str] | None = None,
    redis_url: str = REDIS,
) -> Iterator[Cluster]:  # fmt: skip
    debian_binary("nginx")
    database = f"reelforge_cluster_{uuid.uuid4().hex[:10]}"
    (port,) = free_ports(1)
    started = cluster_command(
        "up", "--run-dir", str(run), "--port", str(port), "--api", str(api),
        "--workers", str(workers), "--database-url", f"{PG_SERVER}/{database}",
        "--redis-url", redis_url, *(f"--env={k}={v}" for k, v in (env or {}).items()),
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        topology = json.loads((run / "topology.json").read_text())
        yield Cluster(run, topology["url"], topology["api_urls"], topology["database_url"])
    finally:
        cluster_command("down", "--run-dir", str(run))
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def sign_up(base: str) -> dict[str, str]:
    """A new account, signed in; returns the Authorization header."""
    email, password = f"op-{uuid.uuid4().hex[:8]}@example.org", f"Rf-{uuid.uuid4().hex}!"
    body = {"email": email, "password": password}
    created = httpx.post(f"{base}/api/v1/auth/register", json=body)
    assert created.status_code == 201, created.text
    login = httpx.post(f"{base}/api/v1/auth/login", json=body)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def submit(base: str, headers: dict[str, str], settings: dict[str, object], prompt: str) -> str:
    """Create a project and submit its render; returns the render id."""
    project = httpx.post(
        f"{base}/api/v1/projects", headers=headers,
        json={"name": "Chaos", "prompt": prompt, "settings": settings},
    )  # fmt: skip
    assert project.status_code == 201, project.text
    submitted = httpx.post(
        f"{base}/api/v1/projects/{project.json()['id']}/renders", headers=headers
    )
    assert submitted.status_code == 202, submitted.text
    render_id: str = submitted.json()["id"]
    return render_id


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = TIMEOUT_S) -> None:
    """Poll `condition` until it is true; a request that fails meanwhile counts as not yet."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if condition():
                return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def render_status(cluster: Cluster, headers: dict[str, str], render_id: str) -> dict[str, object]:
    reply = httpx.get(f"{cluster.url}/api/v1/renders/{render_id}", headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    status: dict[str, object] = reply.json()
    return status


def job_events(cluster: Cluster, render_id: str) -> list[str]:
    """The types of the render's stored events, in order."""
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.scalars(
                    text("SELECT type FROM events WHERE job_id = :id ORDER BY id"),
                    {"id": uuid.UUID(render_id)},
                )
            )
    finally:
        engine.dispose()


def assert_playable(cluster: Cluster, headers: dict[str, str], status: dict[str, object]) -> None:
    """The finished render's video downloads (through S3's redirect) and is real H.264."""
    links = status["links"]
    assert isinstance(links, dict)
    video = httpx.get(f"{cluster.url}{links['video']}", headers=headers, follow_redirects=True)
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.duration / 1e6 > 5
