"""The whole user journey over HTTP: register → login → project → submit → live events in
order → download an MP4 that probes right (with Range, as a `<video>` tag seeks)."""

from __future__ import annotations

import io
import json
import time

import av
import pytest
from fastapi.testclient import TestClient

from .conftest import ClientFactory, new_project, sign_up

pytestmark = pytest.mark.slow
SETTINGS = {"resolution": "480p", "target_duration_s": 10, "music": {"enabled": False}}


def wait_render(client: TestClient, headers: dict[str, str], render_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/renders/{render_id}", headers=headers).json()
        if status["status"] in ("succeeded", "failed", "canceled"):
            return dict(status)
        time.sleep(0.2)
    raise AssertionError("render did not finish")


def test_journey_from_sign_up_to_download(make_client: ClientFactory) -> None:
    client = make_client(workers=1)
    headers = sign_up(client)
    project = new_project(client, headers, settings=SETTINGS)
    submitted = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    assert submitted.status_code == 202, submitted.text
    render = submitted.json()
    assert render["status"] in ("queued", "running") and submitted.headers["location"]

    token = headers["Authorization"].removeprefix("Bearer ")
    seen: list[dict[str, object]] = []
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        while not seen or seen[-1]["type"] not in ("succeeded", "failed"):
            message = json.loads(ws.receive_text())
            if message["type"] != "keepalive":
                seen.append(message)
    types = [e["type"] for e in seen]
    assert types[0] == "queued" and types[1] == "started" and types[-1] == "succeeded"
    assert set(types) <= {"queued", "started", "progress", "succeeded"}
    event_link = seen[-1]["data"]["links"]["video"]  # type: ignore[index]
    assert event_link.startswith(f"/api/v1/renders/{render['id']}/video?expires=")
    ids = [int(e["id"]) for e in seen]  # type: ignore[call-overload]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e["render_id"] == render["id"] for e in seen)

    done = wait_render(client, headers, render["id"])
    assert done["status"] == "succeeded" and done["progress"] == 100.0
    links = done["links"]
    assert isinstance(links, dict)
    video = client.get(links["video"], headers=headers)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.headers["accept-ranges"] == "bytes"
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (854, 480)
        assert container.streams.audio[0].codec_context.name == "aac"
        seconds = float(container.duration or 0) / 1_000_000
        assert seconds > 2.0 and abs(seconds - float(done["duration_s"])) < 0.5  # type: ignore[arg-type]

    part = client.get(links["video"], headers=headers | {"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == video.content[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(video.content)}"

    assert client.get(event_link).status_code == 200  # the event's link is signed too
    anonymous = client.get(links["video"])  # the signed link alone, as `<video src>` uses it
    assert anonymous.status_code == 200 and anonymous.content == video.content
    forged = client.get(links["video"].replace("sig=", "sig=0"))
    assert forged.status_code == 401
    bare = links["video"].split("?")[0]
    assert client.get(bare).status_code == 401

    saved = client.get(links["video"] + "&download=true", headers=headers)
    assert saved.headers["content-disposition"].startswith("attachment;")
    srt = client.get(links["srt"], headers=headers)
    assert srt.status_code == 200 and "-->" in srt.text and "moon" in srt.text.lower()
    thumb = client.get(links["thumbnail"], headers=headers)
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    manifest = client.get(f"/api/v1/renders/{render['id']}/manifest.json", headers=headers)
    assert manifest.status_code == 200 and manifest.headers["content-type"] == "application/json"
    assert manifest.json()["duration_s"] == pytest.approx(done["duration_s"])
    checked = done["checks"]  # every output check passed, as the manifest lists them
    assert (
        isinstance(checked, list)
        and [c["name"] for c in checked] == [c["name"] for c in manifest.json()["checks"]]
        and len(checked) == 6
        and all(c["ok"] for c in checked)
    )
