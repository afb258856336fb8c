"""Edges: rate limits, body size, validation problems, plan limits, idempotent submits,
security headers and CORS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reelforge.db.models import RenderJob

from .conftest import PASSWORD, ClientFactory, new_project, sign_up


def test_login_rate_limit_is_429_with_retry_after(make_client: ClientFactory) -> None:
    client = make_client(api={"rate_auth": "3/minute"})
    body = {"email": "who@example.org", "password": PASSWORD}
    answers = [client.post("/api/v1/auth/login", json=body).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    limited = client.post("/api/v1/auth/login", json=body)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["type"] == "urn:reelforge:problem:rate-limited"


def test_submit_rate_limit_is_per_user(make_client: ClientFactory) -> None:
    client = make_client(api={"rate_submit": "2/minute"})
    ann, bob = sign_up(client), sign_up(client)
    project = new_project(client, ann)
    codes = [
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=ann).status_code
        for _ in range(3)
    ]
    assert codes == [202, 202, 429]
    other = new_project(client, bob)
    assert client.post(f"/api/v1/projects/{other['id']}/renders", headers=bob).status_code == 202


def test_oversize_body_is_413(make_client: ClientFactory) -> None:
    client = make_client(api={"max_body_bytes": 2048})
    headers = sign_up(client)
    big = {"name": "x", "prompt": "y" * 5000}
    declared = client.post("/api/v1/projects", json=big, headers=headers)
    assert declared.status_code == 413
    assert declared.json()["type"] == "urn:reelforge:problem:payload-too-large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"name": "x", "prompt": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    streamed = client.post(
        "/api/v1/projects", content=chunks(), headers=headers | {"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert client.get("/api/v1/projects", headers=headers).json()["total"] == 0


def test_invalid_settings_are_422_naming_the_field(client: TestClient) -> None:
    headers = sign_up(client)
    response = client.post(
        "/api/v1/projects", json={"name": "p", "settings": {"resolution": "4k"}}, headers=headers
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:reelforge:problem:validation"
    assert problem["detail"].startswith("settings.resolution:")
    assert problem["errors"][0]["field"] == "settings.resolution"
    unknown = client.post("/api/v1/projects", json={"name": "p", "colour": 1}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "colour"


def test_storyboards_cannot_name_server_files(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    storyboard = {
        "scenes": [{"narration": "Hi.", "visual": {"kind": "file", "path": "/etc/passwd"}}]
    }
    response = client.put(
        f"/api/v1/projects/{project['id']}/storyboard", json=storyboard, headers=headers
    )
    assert response.status_code == 422 and "/etc/passwd" in response.json()["detail"]


def test_project_settings_cannot_name_server_files(client: TestClient) -> None:
    headers = sign_up(client)
    sneaky = {"music": {"enabled": True, "file": "/etc/passwd"}}
    created = client.post(
        "/api/v1/projects", json={"name": "m", "settings": sneaky}, headers=headers
    )
    assert created.status_code == 422 and "/etc/passwd" in created.json()["detail"]
    project = new_project(client, headers)
    patched = client.patch(
        f"/api/v1/projects/{project['id']}", json={"settings": sneaky}, headers=headers
    )
    assert patched.status_code == 422


def test_a_cloud_voice_needs_a_key_before_submit(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers, settings={"voice": "elevenlabs/Rachel"})
    submit = f"/api/v1/projects/{project['id']}/renders"
    refused = client.post(submit, headers=headers)
    assert refused.status_code == 422 and "elevenlabs API key" in refused.json()["detail"]
    client.put("/api/v1/users/me/secrets/elevenlabs", json={"value": "xi-mine"}, headers=headers)
    assert client.post(submit, headers=headers).status_code == 202


def test_plan_limits_are_enforced_on_submit(client: TestClient) -> None:
    headers = sign_up(client)  # free: 60 s, 720p, 5 waiting
    long = new_project(client, headers, settings={"target_duration_s": 120})
    too_long = client.post(f"/api/v1/projects/{long['id']}/renders", headers=headers)
    assert too_long.status_code == 402 and "60 s" in too_long.json()["detail"]
    sharp = new_project(client, headers, settings={"resolution": "1080p"})
    too_sharp = client.post(f"/api/v1/projects/{sharp['id']}/renders", headers=headers)
    assert too_sharp.status_code == 402 and "720p" in too_sharp.json()["detail"]
    fine = new_project(client, headers)
    codes = [
        client.post(f"/api/v1/projects/{fine['id']}/renders", headers=headers).status_code
        for _ in range(6)
    ]
    assert codes == [202] * 5 + [429]
    me = client.get("/api/v1/users/me", headers=headers).json()
    assert me["usage"]["waiting"] == 5 and me["limits"]["max_waiting"] == 5


def test_an_idempotency_key_makes_submit_repeat_safe(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    url = f"/api/v1/projects/{project['id']}/renders"
    first = client.post(url, headers=headers | {"Idempotency-Key": "abc"})
    again = client.post(url, headers=headers | {"Idempotency-Key": "abc"})
    other = client.post(url, headers=headers | {"Idempotency-Key": "def"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert client.get("/api/v1/renders", headers=headers).json()["total"] == 2


def test_security_headers_and_cors(make_client: ClientFactory) -> None:
    client = make_client(api={"cors_origins": ["https://app.example"]})
    response = client.get("/api/v1/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    allowed = client.options(
        "/api/v1/projects",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    denied = client.options(
        "/api/v1/projects",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in denied.headers


def storyboard_project(client: TestClient, headers: dict[str, str], scenes: list[Any]) -> str:
    project = new_project(client, headers)
    written = client.put(
        f"/api/v1/projects/{project['id']}/storyboard", json={"scenes": scenes}, headers=headers
    )
    assert written.status_code == 200, written.text
    return f"/api/v1/projects/{project['id']}/renders"


def test_a_storyboard_longer_than_the_plan_is_refused_at_submit(client: TestClient) -> None:
    headers = sign_up(client)  # free: 60 s; each scene lasts at least 2 s
    explicit = storyboard_project(
        client, headers, [{"narration": "Hi.", "duration_s": 600}] * 200
    )  # asked 33 hours with the default 30 s target
    many = storyboard_project(client, headers, [{"narration": "Hi."}] * 31)
    wordy = storyboard_project(client, headers, [{"narration": "word " * 999}])
    for url, at_least in ((explicit, "120000 s"), (many, "62 s"), (wordy, "200 s")):
        refused = client.post(url, headers=headers)
        assert refused.status_code == 402, refused.text
        problem = refused.json()
        assert problem["type"] == "urn:reelforge:problem:plan-limit"
        assert f"lasts at least {at_least}" in problem["detail"] and "60 s" in problem["detail"]
    fits = storyboard_project(client, headers, [{"narration": "Hi."}] * 30)
    assert client.post(fits, headers=headers).status_code == 202
    assert client.get("/api/v1/renders", headers=headers).json()["total"] == 1


def test_a_queued_storyboard_counts_its_shortest_length_and_carries_the_cap(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    url = storyboard_project(client, headers, [{"narration": "Hi.", "duration_s": 15}] * 3)
    submitted = client.post(url, headers=headers)
    assert submitted.status_code == 202
    me = client.get("/api/v1/users/me", headers=headers).json()
    assert me["usage"]["minutes_this_month"] == 0.75  # 45 s, not the 30 s target
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session:
        job = session.get(RenderJob, uuid.UUID(submitted.json()["id"]))
        assert job is not None and job.payload["max_duration_s"] == 66.0  # 60 s + 10%


HUGE = "x" * 200_000
BIG_PROMPT = "T" * 12_000
"""12 KB in one word: big to store, short to narrate."""


def scene(**fields: Any) -> dict[str, Any]:
    return {"scenes": [{"narration": "Hi."} | fields]}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/projects", {"name": "p", "settings": {"voice": HUGE}}, "settings.voice"),
        ("/projects", {"name": "p", "settings": {"language": HUGE}}, "settings.language"),
        ("/projects", {"name": "p", "settings": {"template_id": HUGE}}, "settings.template_id"),
        ("/storyboard", scene() | {"title": HUGE}, "title"),
        ("/storyboard", scene(headline=HUGE), "scenes.0.headline"),
        ("/storyboard", scene(keywords=[HUGE]), "scenes.0.keywords.0"),
        ("/storyboard", scene(keywords=["k"] * 21), "scenes.0.keywords"),
        ("/storyboard", scene(visual={"prompt": HUGE}), "scenes.0.visual.prompt"),
        ("/storyboard", scene(visual={"query": HUGE}), "scenes.0.visual.query"),
    ],
)  # fmt: skip
def test_every_stored_string_has_a_bound(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    headers = sign_up(client)
    if path == "/storyboard":
        project = new_project(client, headers)
        answer = client.put(
            f"/api/v1/projects/{project['id']}/storyboard", json=body, headers=headers
        )
    else:
        answer = client.post(
            f"/api/v1/projects{path.removeprefix('/projects')}", json=body, headers=headers
        )
    assert answer.status_code == 422, answer.text[:200]
    problem = answer.json()
    assert problem["type"] == "urn:reelforge:problem:validation"
    assert problem["errors"][0]["field"] == field
    patched = client.get("/api/v1/projects", headers=headers).json()["items"]
    assert all(HUGE not in str(p) for p in patched)


def test_the_storage_quota_is_enforced_and_shown(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from reelforge.model.plans import PLAN_LIMITS, Plan

    monkeypatch.setitem(
        PLAN_LIMITS, Plan.FREE, replace(PLAN_LIMITS[Plan.FREE], storage_bytes=30_000)
    )
    headers = sign_up(client)
    first = new_project(client, headers, prompt=BIG_PROMPT)
    me = client.get("/api/v1/users/me", headers=headers).json()
    assert me["limits"]["storage_bytes"] == 30_000
    assert 12_000 < me["usage"]["storage_bytes"] < 13_000
    second = new_project(client, headers, prompt=BIG_PROMPT)
    third = client.post(
        "/api/v1/projects", json={"name": "full", "prompt": BIG_PROMPT}, headers=headers
    )
    assert third.status_code == 413
    problem = third.json()
    assert problem["type"] == "urn:reelforge:problem:storage-quota"
    assert "30 MB" not in problem["detail"] and "0.03 MB" in problem["detail"]
    assert client.get("/api/v1/projects", headers=headers).json()["total"] == 2

    grow = client.patch(
        f"/api/v1/projects/{first['id']}", json={"prompt": "T" * 19_200}, headers=headers
    )
    assert grow.status_code == 413
    # A render carries a snapshot of its project: 12 KB more does not fit either.
    submit = client.post(f"/api/v1/projects/{first['id']}/renders", headers=headers)
    assert submit.status_code == 413 and submit.json()["type"].endswith("storage-quota")
    shrink = client.patch(
        f"/api/v1/projects/{second['id']}", json={"prompt": "Tides rise."}, headers=headers
    )
    assert shrink.status_code == 200
    submitted = client.post(f"/api/v1/projects/{first['id']}/renders", headers=headers)
    assert submitted.status_code == 202
    used = client.get("/api/v1/users/me", headers=headers).json()["usage"]["storage_bytes"]
    assert 24_000 < used < 27_000  # the project and the render's copy of the 12 KB prompt

    # A finished render's files count too, until the render is deleted.
    render_id = submitted.json()["id"]
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session, session.begin():
        job = session.get(RenderJob, uuid.UUID(render_id))
        job.state, job.result = "succeeded", {"duration_s": 5.0, "bytes": 4000}
    after = client.get("/api/v1/users/me", headers=headers).json()["usage"]["storage_bytes"]
    assert after == used + 4000
    assert client.delete(f"/api/v1/renders/{render_id}", headers=headers).status_code == 204
    freed = client.get("/api/v1/users/me", headers=headers).json()["usage"]["storage_bytes"]
    assert freed < 14_000  # the two projects only
    assert client.get(f"/api/v1/renders/{render_id}", headers=headers).status_code == 404


def test_only_a_finished_render_can_be_deleted(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers).json()
    queued = client.delete(f"/api/v1/renders/{render['id']}", headers=headers)
    assert queued.status_code == 409 and queued.json()["type"].endswith("conflict")
    client.post(f"/api/v1/renders/{render['id']}/cancel", headers=headers)
    assert client.delete(f"/api/v1/renders/{render['id']}", headers=headers).status_code == 204
    other = sign_up(client)
    assert client.delete(f"/api/v1/renders/{render['id']}", headers=other).status_code == 404


def test_a_project_saved_before_a_bound_existed_is_422_on_submit(client: TestClient) -> None:
    from reelforge.db.models import Project

    headers = sign_up(client)
    project = new_project(client, headers)
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session, session.begin():  # as older versions let it be
        row = session.get(Project, uuid.UUID(project["id"]))
        row.settings = row.settings | {"voice": HUGE}
    refused = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    assert refused.status_code == 422, refused.text[:300]
    assert "settings are not valid any more: voice" in refused.json()["detail"]


def test_a_prompt_read_as_narration_must_fit_the_plan_at_submit(client: TestClient) -> None:
    headers = sign_up(client)  # no LLM is configured: the prompt is the narration
    long = new_project(client, headers, prompt="Tides rise and fall. " * 250)  # 1 000 words
    refused = client.post(f"/api/v1/projects/{long['id']}/renders", headers=headers)
    assert refused.status_code == 402, refused.text
    assert refused.json()["type"] == "urn:reelforge:problem:plan-limit"
    assert "lasts at least 200 s (1000 words" in refused.json()["detail"]
    fits = new_project(client, headers, prompt="Tides rise and fall. " * 25)  # ~20 s at most
    assert client.post(f"/api/v1/projects/{fits['id']}/renders", headers=headers).status_code == 202
