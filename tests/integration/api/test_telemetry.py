"""What an operator sees: every response names its request id, `/metrics` times each route
and counts open WebSockets, and one render can be followed in the JSON logs from the
request that submitted it to the worker that ran it."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from reelforge import logs
from tests.unit.test_deploy_files import metric_names_used

from .conftest import ClientFactory, new_project, sign_up
from .test_journey import SETTINGS, wait_render

METRICS_TOKEN = "metrics-" + "t" * 32
ROUTE = "/api/v1/projects/{project_id}"


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert reply.status_code == 200, reply.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything logged, as the JSON lines a collector reads (stderr is not a terminal)."""
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    logs.configure("INFO")
    yield stderr
    structlog.reset_defaults()
    logging.getLogger("reelforge").handlers.clear()


def log_lines(stderr: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.getvalue().splitlines() if line.startswith("{")]


def test_each_response_names_its_request_and_routes_are_timed(make_client: ClientFactory) -> None:
    client = make_client(api={"metrics_token": METRICS_TOKEN})
    headers = sign_up(client)
    project = new_project(client, headers)

    mine = client.get(
        f"/api/v1/projects/{project['id']}", headers=headers | {"X-Request-ID": "lb-42"}
    )
    assert mine.headers["x-request-id"] == "lb-42"  # the load balancer's id is kept
    minted = client.get(f"/api/v1/projects/{project['id']}", headers=headers)
    hostile = client.get("/api/v1/healthz", headers={"X-Request-ID": 'a b"{}' * 20})
    assert len({minted.headers["x-request-id"], hostile.headers["x-request-id"], "lb-42"}) == 3
    assert hostile.headers["x-request-id"].isalnum()  # an unsafe id is replaced, not echoed
    missing = client.get(f"/api/v1/projects/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=headers)
    assert missing.status_code == 404

    samples = scrape(client)

    def count(route: str, status: str) -> float:
        key = (("method", "GET"), ("route", route), ("status", status))
        return samples.get(("reelforge_http_request_duration_seconds_count", key), 0.0)

    assert count(ROUTE, "200") == 2 and count(ROUTE, "404") == 1  # the template, not the path
    assert count("/api/v1/healthz", "200") == 1
    assert not any(project["id"] in dict(labels).get("route", "") for _, labels in samples)


def test_open_websockets_are_counted(make_client: ClientFactory) -> None:
    client = make_client(api={"metrics_token": METRICS_TOKEN})
    token = sign_up(client)["Authorization"].removeprefix("Bearer ")
    gauge = ("reelforge_websocket_connections", ())
    with client.websocket_connect(f"/api/v1/ws?token={token}"):
        assert scrape(client)[gauge] == 1
    assert scrape(client)[gauge] == 0


@pytest.mark.slow
def test_a_render_is_followed_from_request_to_worker(
    make_client: ClientFactory, json_logs: io.StringIO
) -> None:
    client = make_client(workers=1, api={"metrics_token": METRICS_TOKEN})
    headers = sign_up(client)
    project = new_project(client, headers, settings=SETTINGS)
    submitted = client.post(
        f"/api/v1/projects/{project['id']}/renders", headers=headers | {"X-Request-ID": "req-7"}
    )
    assert submitted.status_code == 202, submitted.text
    render_id = submitted.json()["id"]
    assert wait_render(client, headers, render_id)["status"] == "succeeded"

    lines = log_lines(json_logs)
    api = [x for x in lines if x.get("event") == "request" and x.get("request_id") == "req-7"]
    assert api and api[0]["route"] == "/api/v1/projects/{project_id}/renders"
    worker = [x for x in lines if x.get("job_id") == render_id]
    assert worker and all(x["request_id"] == "req-7" for x in worker)
    assert any("succeeded" in str(x["event"]) for x in worker)

    samples = scrape(client)
    stages = {dict(labels)["stage"] for name, labels in samples
              if name == "reelforge_render_stage_seconds_count"}  # fmt: skip
    assert {"script", "voice", "visuals", "compose"} <= stages
    assert (
        samples[("reelforge_job_attempts_total", (("kind", "render"), ("outcome", "succeeded")))]
        == 1
    )
    free = [v for (name, _), v in samples.items() if name == "reelforge_disk_free_bytes"]
    assert len(free) == 2 and all(v > 0 for v in free)


def test_every_metric_the_alerts_and_dashboard_use_is_exported(make_client: ClientFactory) -> None:
    """A renamed metric would silence its alert: each name the rules and the dashboard
    query must be on `/metrics` (families are listed even before their first sample)."""
    client = make_client(api={"metrics_token": METRICS_TOKEN})
    reply = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(reply.text)
        for suffix in suffixes.get(family.type, ("",))
    }
    used = metric_names_used()
    assert len(used) >= 12 and used <= exported, used - exported
