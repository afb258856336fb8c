"""`make cluster` as an operator runs it: nginx in front of two API replicas, workers and S3,
on the PostgreSQL and Redis of this machine; a render through the balancer with its live
events, no sticky sessions, and `cluster-down` leaving nothing of ours running."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from deploy.cluster import alive
from sqlalchemy import create_engine, text
from websockets.sync.client import connect

from tests.support.debian import debian_binary
from tests.support.seaweed import free_ports

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = os.environ.get("REELFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("REELFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
SETTINGS = {"resolution": "480p", "target_duration_s": 10, "music": {"enabled": False}}
RENDER_TIMEOUT_S = 240


def _cluster(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.cluster", *args], cwd=ROOT, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    debian_binary("nginx", "nginx-light")
    database = f"reelforge_cluster_{uuid.uuid4().hex[:10]}"
    run = tmp_path / "run"
    (port,) = free_ports(1)
    started = _cluster(
        "up", "--run-dir", str(run), "--port", str(port), "--api", "2", "--workers", "2",
        "--database-url", f"{PG_SERVER}/{database}", "--redis-url", REDIS,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        yield run, json.loads((run / "topology.json").read_text())
    finally:
        _cluster("down", "--run-dir", str(run))
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _sign_up(base: str) -> dict[str, str]:
    email, password = f"op-{uuid.uuid4().hex[:8]}@example.org", f"Rf-{uuid.uuid4().hex}!"
    created = httpx.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert created.status_code == 201, created.text
    login = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_a_render_through_the_balancer_with_no_sticky_sessions(
    cluster: tuple[Path, dict[str, object]],
) -> None:
    run, topology = cluster
    balancer, replicas = str(topology["url"]), topology["api_urls"]
    assert isinstance(replicas, list) and len(replicas) == 2
    assert httpx.get(f"{balancer}/").headers["content-type"].startswith("text/html")

    headers = _sign_up(replicas[0])  # a token one replica issued…
    me = httpx.get(f"{replicas[1]}/api/v1/users/me", headers=headers)  # …the other accepts
    assert me.status_code == 200, me.text
    project = httpx.post(
        f"{balancer}/api/v1/projects", headers=headers,
        json={"name": "Tides", "prompt": "Tides rise twice a day. The moon pulls the oceans.",
              "settings": SETTINGS},
    )  # fmt: skip
    assert project.status_code == 201, project.text

    token = headers["Authorization"].removeprefix("Bearer ")
    ws_url = balancer.replace("http://", "ws://") + f"/api/v1/ws?token={token}"
    events: list[dict[str, object]] = []
    with connect(ws_url, open_timeout=10) as socket:  # the WebSocket upgrade through nginx
        submitted = httpx.post(
            f"{replicas[1]}/api/v1/projects/{project.json()['id']}/renders", headers=headers
        )
        assert submitted.status_code == 202, submitted.text
        while not events or events[-1]["type"] not in ("succeeded", "failed"):
            message = json.loads(socket.recv(timeout=RENDER_TIMEOUT_S))
            if message["type"] != "keepalive":
                events.append(message)
    types = [e["type"] for e in events]
    assert types[0] == "queued" and types[1] == "started" and types[-1] == "succeeded", types

    render = httpx.get(f"{balancer}/api/v1/renders/{submitted.json()['id']}", headers=headers)
    video = httpx.get(  # a 307 to a signed S3 URL, as a <video> tag follows it
        f"{balancer}{render.json()['links']['video']}", headers=headers, follow_redirects=True
    )
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"

    pids = [int(p.read_text()) for p in (run / "pids").glob("*.pid")]
    pids.append(int((run / "nginx.pid").read_text()))
    assert len(pids) == 1 + 2 + 2 + 1  # S3, API replicas, workers, nginx
    stopped = _cluster("down", "--run-dir", str(run))
    assert stopped.returncode == 0, stopped.stderr
    assert [pid for pid in pids if alive(pid)] == []
    assert not list((run / "pids").glob("*.pid"))
