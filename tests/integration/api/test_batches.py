"""Batches over the API: rows checked up front (strict, skip_invalid, dry run), cancel and
retry per batch and per row, live progress, the results CSV and the streamed ZIP."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from reelforge.db.models import Event, JobState, RenderJob, utcnow
from reelforge.jobs.kinds import render_blob_key
from reelforge.model.plans import PLAN_LIMITS, Plan
from reelforge.platform.services import Platform

from .conftest import ClientFactory, sign_up
from .test_live import receive

BAD_LINES = (6, 15)


@pytest.fixture(autouse=True)
def roomy_free_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 20-row batch on the free plan (it queues 5 and batches 5 otherwise)."""
    roomy = replace(PLAN_LIMITS[Plan.FREE], max_waiting=50, max_batch_rows=50)
    monkeypatch.setitem(PLAN_LIMITS, Plan.FREE, roomy)


def twenty_rows() -> str:
    """A header and 20 rows (lines 2-21); lines 6 and 15 are bad."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["title", "prompt", "aspect", "duration"])
    for line in range(2, 22):
        if line == 6:
            writer.writerow([f"Row {line}", "", "9:16", "15"])  # no prompt
        elif line == 15:
            writer.writerow([f"Row {line}", "Bees dance.", "diagonal", "15"])  # no such aspect
        else:
            writer.writerow([f"Row {line}", f"Fact number {line} about tides.", "9:16", "15"])
    return out.getvalue()


def post_csv(client: TestClient, headers: dict[str, str], text: str, query: str = "") -> Any:
    return client.post(
        f"/api/v1/batches{query}", content=text.encode(),
        headers=headers | {"Content-Type": "text/csv"},
    )  # fmt: skip


def queued(client: TestClient, headers: dict[str, str]) -> int:
    total: int = client.get("/api/v1/renders", headers=headers).json()["total"]
    return total


def test_bad_rows_are_reported_by_line_and_nothing_is_queued(client: TestClient) -> None:
    headers = sign_up(client)
    refused = post_csv(client, headers, twenty_rows())
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [row["line"] for row in problem["rows"]] == list(BAD_LINES)
    assert "prompt or a script" in problem["rows"][0]["reason"]
    assert "aspect" in problem["rows"][1]["reason"]
    assert queued(client, headers) == 0
    assert client.get("/api/v1/batches", headers=headers).json()["total"] == 0


def test_a_dry_run_previews_every_row_and_queues_nothing(client: TestClient) -> None:
    headers = sign_up(client)
    checked = post_csv(client, headers, twenty_rows(), "?dry_run=true&template=listicle")
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert len(report["valid"]) == 18 and report["valid"][0]["line"] == 2
    assert report["valid"][0]["duration_s"] == 15
    assert [row["line"] for row in report["invalid"]] == list(BAD_LINES)
    assert report["plan_problem"] is None
    assert queued(client, headers) == 0
    tight = replace(PLAN_LIMITS[Plan.FREE], max_waiting=10)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PLAN_LIMITS, Plan.FREE, tight)
        report = post_csv(client, headers, twenty_rows(), "?dry_run=true").json()
    assert "plan queues 10" in report["plan_problem"]


def test_skip_invalid_queues_the_rest_and_keeps_the_skipped_lines(client: TestClient) -> None:
    headers = sign_up(client)
    created = post_csv(client, headers, twenty_rows(), "?skip_invalid=true&name=Tides")
    assert created.status_code == 201, created.text
    batch = created.json()
    assert batch["name"] == "Tides" and batch["total"] == 18
    assert [row["line"] for row in batch["skipped"]] == list(BAD_LINES)
    assert batch["counts"]["queued"] == 18 and batch["done"] == 0
    assert queued(client, headers) == 18
    assert client.get(created.headers["Location"], headers=headers).json()["total"] == 18
    # Someone else's batch is not found.
    other = sign_up(client)
    assert client.get(f"/api/v1/batches/{batch['id']}", headers=other).status_code == 404


def test_json_rows_with_a_template_and_plan_limits(client: TestClient) -> None:
    headers = sign_up(client)
    rows = [
        {"prompt": "Tides rise.", "title": "A"},
        {"script": "One.\n\nTwo.", "resolution": "480p"},
    ]
    body = {"name": "json", "template_id": "listicle", "rows": rows}
    created = client.post("/api/v1/batches", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["template_id"] == "listicle"
    too_sharp = client.post(
        "/api/v1/batches", json={"rows": [{"prompt": "x", "resolution": "1080p"}]}, headers=headers
    )
    assert too_sharp.status_code == 422
    assert too_sharp.json()["rows"][0]["line"] == 1
    assert "plan renders up to" in too_sharp.json()["rows"][0]["reason"]
    foreign = {"rows": [{"prompt": "x"}, {"prompt": "y", "music": str(uuid.uuid4())}]}
    refused = client.post("/api/v1/batches", json=foreign, headers=headers).json()
    [problem] = refused["rows"]
    assert problem["line"] == 2 and "you have no asset" in problem["reason"]
    many = {"rows": [{"prompt": f"row {n}"} for n in range(51)]}
    assert client.post("/api/v1/batches", json=many, headers=headers).status_code == 402


def test_cancel_and_retry_per_batch_and_per_row(client: TestClient) -> None:
    headers = sign_up(client)
    batch = post_csv(client, headers, twenty_rows(), "?skip_invalid=true").json()
    url = f"/api/v1/batches/{batch['id']}"
    one = batch["rows"][0]["render_id"]
    assert client.post(f"/api/v1/renders/{one}/cancel", headers=headers).status_code == 202
    assert client.get(url, headers=headers).json()["counts"]["canceled"] == 1

    canceled = client.post(f"{url}/cancel", headers=headers)
    assert canceled.status_code == 202 and canceled.json()["counts"]["canceled"] == 18

    again = client.post(f"/api/v1/renders/{one}/retry", headers=headers).json()
    after_row = client.get(url, headers=headers).json()
    assert after_row["rows"][0]["render_id"] == again["id"]
    assert after_row["counts"] == after_row["counts"] | {"queued": 1, "canceled": 17}

    retried = client.post(f"{url}/retry", headers=headers).json()
    assert retried["counts"]["queued"] == 18
    assert queued(client, headers) == 18 + 1 + 17  # the canceled renders stay listed


def finish(platform: Platform, render_ids: list[str], video: bytes) -> None:
    """As if a worker rendered them: succeeded, with a video in the blob store."""
    for render_id in render_ids:
        platform.blobs.put_bytes(render_blob_key(render_id, "video.mp4"), video, "video/mp4")
    with platform.engine.begin() as conn:
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id.in_([uuid.UUID(r) for r in render_ids]))
            .values(
                state=JobState.SUCCEEDED, finished_at=utcnow(), progress=1.0,
                result={"blobs": {"video": "video.mp4"}, "duration_s": 15.0},
            )
        )  # fmt: skip


def test_results_csv_and_the_streamed_zip(client: TestClient) -> None:
    headers = sign_up(client)
    batch = post_csv(client, headers, twenty_rows(), "?skip_invalid=true").json()
    done = [row["render_id"] for row in batch["rows"][:3]]
    finish(client.app.state.platform, done, b"\x00\x00\x00\x18ftypmp42" + b"v" * 3000)
    url = f"/api/v1/batches/{batch['id']}"

    results = client.get(f"{url}/results.csv", headers=headers)
    assert results.status_code == 200 and results.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(results.text)))
    assert len(lines) == 20
    assert (
        lines[0] | {"status": "succeeded", "file": "002-row-2.mp4", "duration_s": "15.0"}
        == lines[0]
    )
    assert {(line["line"], line["status"]) for line in lines[-2:]} == {
        ("6", "invalid"), ("15", "invalid"),
    }  # fmt: skip

    with client.stream("GET", f"{url}/download.zip", headers=headers) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # streamed, not built first
        body = b"".join(response.iter_bytes())
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.namelist() == ["002-row-2.mp4", "003-row-3.mp4", "004-row-4.mp4", "results.csv"]
    assert archive.read("002-row-2.mp4").endswith(b"v" * 3000)
    assert archive.read("results.csv").decode() == results.text


def test_batch_progress_over_the_websocket(client: TestClient) -> None:
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    rows = [{"prompt": "Tides rise."}, {"prompt": "Bees dance."}]
    batch = client.post("/api/v1/batches", json={"rows": rows}, headers=headers).json()
    manager = client.app.state.platform.jobs
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        assert [e["type"] for e in receive(ws, 2)] == ["queued", "queued"]
        [claimed] = manager.claim("test-worker")
        assert manager.succeed(claimed.id, "test-worker", {"duration_s": 1.0})
        events = [e for e in receive(ws, 3) if e["type"] == "batch_progress"]
        assert len(events) == 1
        progress = events[0]["data"]
        assert progress["batch_id"] == batch["id"] and progress["status"] == "succeeded"
        assert (progress["done"], progress["total"]) == (1, 2)
        assert progress["counts"]["succeeded"] == 1 and progress["counts"]["queued"] == 1

        client.post(f"/api/v1/batches/{batch['id']}/cancel", headers=headers)
        canceled = [e for e in receive(ws, 2) if e["type"] == "batch_progress"]
        assert canceled[0]["data"]["done"] == 2


def test_a_row_failed_by_the_reaper_updates_the_batch(client: TestClient) -> None:
    """Its worker died during the row's last attempt: the reaper fails it, and the batch page
    hears of it over the WebSocket like any other finished row."""
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    rows = [{"prompt": "Tides rise."}, {"prompt": "Bees dance."}]
    batch = client.post("/api/v1/batches", json={"rows": rows}, headers=headers).json()
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    manager = platform.jobs
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        assert [e["type"] for e in receive(ws, 2)] == ["queued", "queued"]
        [claimed] = manager.claim("doomed-worker")
        with platform.engine.begin() as conn:  # its last attempt, and silent for an hour
            conn.execute(
                update(RenderJob)
                .where(RenderJob.id == claimed.id)
                .values(attempts=RenderJob.max_attempts, heartbeat_at=utcnow() - timedelta(hours=1))
            )
        [reaped] = manager.reap(stale_after_s=60)
        assert reaped.failed
        with platform.sessions() as session:  # written (else the WebSocket would wait forever)
            sent = session.scalars(select(Event.type).where(Event.type == "batch_progress"))
            assert list(sent) == ["batch_progress"]
        progress = [e for e in receive(ws, 3) if e["type"] == "batch_progress"]
    assert len(progress) == 1
    data = progress[0]["data"]
    assert (data["batch_id"], data["status"], data["done"], data["total"]) == (
        batch["id"], "failed", 1, 2,
    )  # fmt: skip
    shown = client.get(f"/api/v1/batches/{batch['id']}", headers=headers).json()
    assert (shown["done"], shown["counts"]["failed"]) == (1, 1)
    [row] = [r for r in shown["rows"] if r["render_id"] == str(claimed.id)]
    assert row["status"] == "failed" and "stopped responding" in row["error"]


@pytest.mark.slow
def test_the_valid_rows_render_and_zip_as_mp4s(make_client: ClientFactory) -> None:
    """End to end with real renders: a bad row skipped, the others rendered by the worker,
    progress over the WebSocket until the batch is done, and a ZIP of MP4s that probe."""
    import av

    client = make_client(workers=1)
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    rows = (
        "title,prompt,resolution,duration\n"
        "Tides,Tides rise twice a day.,480p,10\n"
        "Broken,Bees dance.,4k,10\n"
        "Moon,The moon pulls the oceans.,480p,10\n"
    )
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        batch = post_csv(client, headers, rows, "?skip_invalid=true").json()
        progress: list[dict[str, Any]] = []
        while not progress or progress[-1]["data"]["done"] < 2:
            progress += [e for e in receive(ws, 1) if e["type"] == "batch_progress"]
    assert [e["data"]["counts"]["succeeded"] for e in progress] == [1, 2]
    zipped = client.get(f"/api/v1/batches/{batch['id']}/download.zip", headers=headers)
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert archive.namelist() == ["002-tides.mp4", "004-moon.mp4", "results.csv"]
    with av.open(io.BytesIO(archive.read("004-moon.mp4"))) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
    assert "3,,invalid" in archive.read("results.csv").decode()
