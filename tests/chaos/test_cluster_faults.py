"""Faults injected into the `make cluster` topology (nginx, two API replicas, two workers, S3,
PostgreSQL): what a user sees must not change — the render completes exactly once and the
live events arrive without a gap."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.cluster import (
    FINISHED,
    TIMEOUT_S,
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

pytestmark = pytest.mark.slow
SETTINGS = render_settings(20)
PROMPT = (
    "Octopuses have three hearts and blue blood. Two hearts pump blood to the gills. The third "
    "pumps it to the rest of the body. Their arms can taste what they touch. Each arm holds "
    "hundreds of suckers. They change colour in a fraction of a second. Some even use tools."
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path / "run", api=2, workers=2) as started:
        yield started


def _job_row(cluster: Cluster, render_id: str) -> dict[str, object]:
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT state, worker_id, attempts FROM render_jobs WHERE id = :id"),
                {"id": uuid.UUID(render_id)},
            ).one()
        return dict(row._mapping)
    finally:
        engine.dispose()


def test_a_worker_killed_mid_render_hands_the_job_to_another_exactly_once(
    cluster: Cluster,
) -> None:
    headers = sign_up(cluster.url)
    render_id = submit(cluster.url, headers, SETTINGS, PROMPT)
    wait_for(lambda: _job_row(cluster, render_id)["state"] == "running", "the render to start")
    first = _job_row(cluster, render_id)
    victim = int(str(first["worker_id"]).split(":")[1])
    assert victim in {cluster.pid("worker-1"), cluster.pid("worker-2")}
    os.killpg(victim, signal.SIGKILL)

    wait_for(lambda: render_status(cluster, headers, render_id)["status"] in FINISHED, "the render")
    status = render_status(cluster, headers, render_id)
    assert status["status"] == "succeeded", status
    done = _job_row(cluster, render_id)
    assert done["attempts"] == 2
    assert int(str(done["worker_id"]).split(":")[1]) != victim
    types = job_events(cluster, render_id)
    assert types.count("succeeded") == 1 and types.count("queued") == 1, types
    assert_playable(cluster, headers, status)


class _Follower:
    """A browser tab's live connection through the balancer: on a drop it reconnects with
    `after=` the last event it saw, as the web app does."""

    def __init__(self, cluster: Cluster, token: str) -> None:
        self.base = cluster.url.replace("http://", "ws://") + f"/api/v1/ws?token={token}"
        self.events: list[dict[str, object]] = []
        self.reconnects = 0
        self.sockets = contextlib.ExitStack()
        self.socket = self._connect()

    def _connect(self) -> ClientConnection:
        after = int(str(self.events[-1]["id"])) if self.events else 0
        return self.sockets.enter_context(connect(f"{self.base}&after={after}", open_timeout=10))

    def next_event(self) -> dict[str, object]:
        while True:
            try:
                message: dict[str, object] = json.loads(self.socket.recv(timeout=TIMEOUT_S))
            except ConnectionClosed:
                self.reconnects += 1
                self.socket = self._connect()
                continue
            if message["type"] != "keepalive":
                self.events.append(message)
                return message

    def follow(self, until: tuple[str, ...]) -> None:
        while not self.events or self.events[-1]["type"] not in until:
            self.next_event()


def test_clients_of_a_killed_api_replica_reconnect_through_nginx_and_miss_nothing(
    cluster: Cluster,
) -> None:
    headers = sign_up(cluster.url)
    token = headers["Authorization"].removeprefix("Bearer ")
    # nginx balances round-robin: two tabs land on the two replicas.
    tabs = [_Follower(cluster, token), _Follower(cluster, token)]
    render_id = submit(cluster.url, headers, SETTINGS, PROMPT)
    for tab in tabs:
        tab.follow(until=("started",))
    os.killpg(cluster.pid("api-1"), signal.SIGKILL)
    for tab in tabs:
        tab.follow(until=FINISHED)
        tab.sockets.close()

    assert sum(tab.reconnects for tab in tabs) >= 1, "no tab was on the killed replica"
    seen = [[(e["id"], e["type"]) for e in tab.events] for tab in tabs]
    assert seen[0] == seen[1], "a reconnected tab missed or repeated an event"
    assert seen[0][-1][1] == "succeeded"
    ids = [int(str(event_id)) for event_id, _ in seen[0]]
    assert ids == sorted(set(ids))
    assert [t for _, t in seen[0]] == job_events(cluster, render_id)  # every stored event
