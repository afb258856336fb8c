"""The API pieces the web app's create flow and editor use: voices with a spoken sample,
an estimate before rendering, the newest event id, and storyboard saves guarded by ETag."""

from __future__ import annotations

import io
import uuid
import wave
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from reelforge.api.app import create_app
from reelforge.db.models import JobState, RenderJob
from reelforge.platform.services import Platform
from reelforge.web import mount
from tests.integration.api.conftest import new_project, settings_for, sign_up


def test_voices_list_the_offline_voice_with_a_playable_sample(client: TestClient) -> None:
    auth = sign_up(client)
    voices = client.get("/api/v1/voices", headers=auth).json()
    joe = next(v for v in voices if v["id"] == "joe")
    assert joe["vendor"] == "piper" and joe["sample_url"] == "/api/v1/voices/joe/sample"

    sample = client.get(joe["sample_url"], headers=auth)
    assert sample.status_code == 200 and sample.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(sample.content)) as wav:
        assert 1.0 < wav.getnframes() / wav.getframerate() < 6.0
    assert client.get("/api/v1/voices/nobody/sample", headers=auth).status_code == 404
    assert client.get("/api/v1/voices").status_code == 401


def test_estimate_with_offline_providers_is_free_and_scales_with_length(client: TestClient) -> None:
    auth = sign_up(client)
    short = client.post(
        "/api/v1/estimate", headers=auth,
        json={"prompt": "Bees.", "settings": {"target_duration_s": 10, "resolution": "480p"}},
    ).json()  # fmt: skip
    long = client.post(
        "/api/v1/estimate", headers=auth,
        json={"prompt": "Bees.", "settings": {"target_duration_s": 120, "resolution": "1080p"}},
    ).json()  # fmt: skip
    assert short["cost_usd"] == 0 and short["lines"] == [] and short["script"] == "prompt"
    assert short["stock_available"] is False
    assert 0 < short["render_seconds"] < long["render_seconds"]
    bad = client.post("/api/v1/estimate", headers=auth, json={"settings": {"resolution": "8k"}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "settings.resolution"


def test_latest_event_id_is_per_user(client: TestClient) -> None:
    ann, bob = sign_up(client), sign_up(client)
    assert client.get("/api/v1/events/latest", headers=ann).json() == {"id": 0}
    project = new_project(client, ann)
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=ann).json()
    client.post(f"/api/v1/renders/{render['id']}/cancel", headers=ann)  # a "canceled" event
    assert client.get("/api/v1/events/latest", headers=ann).json()["id"] > 0
    assert client.get("/api/v1/events/latest", headers=bob).json() == {"id": 0}


def test_a_stale_storyboard_save_gets_412_and_a_fresh_one_wins(client: TestClient) -> None:
    auth = sign_up(client)
    project = new_project(client, auth)
    url = f"/api/v1/projects/{project['id']}/storyboard"

    draft = client.post(f"{url}/draft", headers=auth)
    assert draft.status_code == 200
    scenes = draft.json()["scenes"]
    assert "Tides rise twice a day." in scenes[0]["narration"]
    first_tag = draft.headers["etag"]

    saved = client.put(url, headers=auth | {"If-Match": first_tag}, json={"scenes": scenes})
    assert saved.status_code == 200
    second_tag = saved.headers["etag"]
    assert second_tag != first_tag
    assert client.get(url, headers=auth).headers["etag"] == second_tag

    edited = [{**scenes[0], "narration": "Changed elsewhere."}, *scenes[1:]]
    stale = client.put(url, headers=auth | {"If-Match": first_tag}, json={"scenes": edited})
    assert stale.status_code == 412
    assert stale.json()["type"] == "urn:reelforge:problem:precondition-failed"
    assert "reload" in stale.json()["detail"]
    overwrite = client.put(url, headers=auth, json={"scenes": edited})  # no If-Match: overwrite
    assert overwrite.status_code == 200
    assert client.get(url, headers=auth).json()["scenes"][0]["narration"] == "Changed elsewhere."


def test_an_empty_prompt_has_no_draft(client: TestClient) -> None:
    auth = sign_up(client)
    project = new_project(client, auth, prompt="")
    response = client.post(f"/api/v1/projects/{project['id']}/storyboard/draft", headers=auth)
    assert response.status_code == 422 and "no prompt" in response.json()["detail"]


def test_swagger_ui_is_served_from_the_package(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"):
        assert client.get(f"/api/docs/assets/{asset}").status_code == 200
    assert "'self'" in page.headers["content-security-policy"]


def test_the_web_app_is_served_at_every_path_outside_the_api(db_url: str, tmp_path: Path) -> None:
    app = mount(create_app(Platform(settings_for(db_url, tmp_path))))
    with TestClient(app) as web:
        for path in ("/", "/signin", "/renders/123", "/projects/abc"):
            page = web.get(path)
            assert page.status_code == 200 and '<div id="app">' in page.text
            assert "script-src" not in page.headers["content-security-policy"]  # 'self' only
            assert "default-src 'self'" in page.headers["content-security-policy"]
        script = page.text.split('src="')[1].split('"')[0]
        asset = web.get(script)
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        missing = web.get("/api/v1/nothing")
        assert missing.status_code == 404 and missing.json()["type"].endswith("not-found")
        assert web.get("/api/v1/readyz").status_code == 200


def test_me_shows_what_this_months_renders_cost(client: TestClient) -> None:
    ann, bob = sign_up(client), sign_up(client)
    project = new_project(client, ann)
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=ann).json()
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.engine.begin() as conn:  # as the worker records a render with remote calls
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id == uuid.UUID(render["id"]))
            .values(
                state=JobState.SUCCEEDED, finished_at=datetime.now(UTC),
                result={"duration_s": 30.0, "cost_usd": 0.0425},
            )
        )  # fmt: skip
    assert client.get("/api/v1/users/me", headers=ann).json()["usage"]["cost_usd_this_month"] == (
        0.0425
    )
    assert client.get("/api/v1/users/me", headers=bob).json()["usage"]["cost_usd_this_month"] == 0
