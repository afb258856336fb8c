"""`make cluster` as an operator runs it: nginx in front of two API replicas, workers and S3,
on the PostgreSQL and Redis of this machine; a render through the balancer with its live
events, no sticky sessions, and `cluster-down` leaving nothing of ours running."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from deploy.cluster import alive
from websockets.sync.client import connect

from tests.support.cluster import Cluster, cluster_command, running_cluster, sign_up

pytestmark = pytest.mark.slow
SETTINGS = {"resolution": "480p", "target_duration_s": 10, "music": {"enabled": False}}
RENDER_TIMEOUT_S = 240


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path / "run") as started:
        yield started


def test_a_render_through_the_balancer_with_no_sticky_sessions(cluster: Cluster) -> None:
    balancer, replicas = cluster.url, cluster.api_urls
    assert len(replicas) == 2
    assert httpx.get(f"{balancer}/").headers["content-type"].startswith("text/html")

    headers = sign_up(replicas[0])  # a token one replica issued…
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

    pids = cluster.pids()
    assert len(pids) == 1 + 2 + 2 + 1  # S3, API replicas, workers, nginx
    stopped = cluster_command("down", "--run-dir", str(cluster.run))
    assert stopped.returncode == 0, stopped.stderr
    assert [pid for pid in pids if alive(pid)] == []
    assert not list((cluster.run / "pids").glob("*.pid"))
