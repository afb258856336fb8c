"""Templates over HTTP: built-in + mine, CRUD, versions, previews, projects made from one,
and a render's manifest that later edits of its template never change."""

from __future__ import annotations

import io
import json
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from reelforge.db.crud import templates
from reelforge.jobs.kinds import render_blob_key
from reelforge.model.templates import BUILTIN_TEMPLATES

from .conftest import ClientFactory, new_project, sign_up
from .test_journey import wait_render

URL = "/api/v1/templates"


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    created = client.post(URL, json={"name": "Mine"} | body, headers=headers)
    assert created.status_code == 201, created.text
    template: dict[str, Any] = created.json()
    return template


def test_list_shows_the_builtins_then_mine(client: TestClient) -> None:
    headers = sign_up(client)
    mine = _create(client, headers, from_template="listicle", name="My list")
    listed = client.get(URL, headers=headers).json()
    assert [t["id"] for t in listed] == [*BUILTIN_TEMPLATES, mine["id"]]
    assert all(t["builtin"] for t in listed[:-1]) and not listed[-1]["builtin"]
    assert listed[-1]["style"] == listed[1]["style"]
    assert client.get(URL).status_code == 401


def test_edits_make_versions_and_old_versions_stay_as_they_were(client: TestClient) -> None:
    headers = sign_up(client)
    first = _create(client, headers, from_template="explainer", description="v1")
    url = f"{URL}/{first['id']}"
    edited = client.patch(
        url, json={"name": "Renamed", "style": {"captions": {"color": "#FF0000"}}}, headers=headers
    )
    assert edited.status_code == 200, edited.text
    second = edited.json()
    assert (second["version"], second["name"], second["description"]) == (2, "Renamed", "v1")
    assert second["style"]["captions"]["color"] == "#FF0000"
    assert second["style"]["captions"]["highlight_color"] == "#2ED3E6"  # merged, not replaced
    assert client.get(url, headers=headers).json()["version"] == 2
    old = client.get(f"{url}?version=1", headers=headers).json()
    assert old == first | {"preview_url": old["preview_url"]}
    assert client.get(f"{url}?version=3", headers=headers).status_code == 404
    bad = client.patch(url, json={"style": {"speaking_rate": 9}}, headers=headers)
    assert bad.status_code == 422 and client.get(url, headers=headers).json()["version"] == 2
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404
    assert client.get(f"{url}?version=1", headers=headers).status_code == 404


def test_create_from_a_project_or_a_style_and_exactly_one_source(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers, settings={"aspect": "1:1", "visual_style": "noir"})
    from_project = _create(client, headers, from_project=project["id"])
    assert from_project["style"]["aspect"] == "1:1"
    assert from_project["style"]["visual_style"] == "noir"
    given = _create(client, headers, style={"aspect": "9:16", "speaking_rate": 1.2})
    assert given["style"]["speaking_rate"] == 1.2
    for body in ({}, {"from_template": "quote", "style": {}}):
        assert client.post(URL, json={"name": "x"} | body, headers=headers).status_code == 422
    server_file = {"style": {"music": {"file": "/etc/passwd"}}}
    assert client.post(URL, json={"name": "x"} | server_file, headers=headers).status_code == 422
    unknown = client.post(URL, json={"name": "x", "from_template": "nope"}, headers=headers)
    assert unknown.status_code == 404


def test_builtins_cannot_be_changed(client: TestClient) -> None:
    headers = sign_up(client)
    assert client.get(f"{URL}/quote", headers=headers).json()["version"] == 1
    assert client.patch(f"{URL}/quote", json={"name": "x"}, headers=headers).status_code == 422
    assert client.delete(f"{URL}/quote", headers=headers).status_code == 422


def test_another_users_template_is_not_found(client: TestClient) -> None:
    owner, stranger = sign_up(client), sign_up(client)
    template = _create(client, owner, from_template="quote")
    url = f"{URL}/{template['id']}"
    assert client.get(url, headers=stranger).status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=stranger).status_code == 404
    assert client.delete(url, headers=stranger).status_code == 404
    assert client.get(f"{url}/preview.png", headers=stranger).status_code == 404
    made = client.post(
        "/api/v1/projects", json={"name": "p", "template_id": template["id"]}, headers=stranger
    )
    assert made.status_code == 404
    assert [t["id"] for t in client.get(URL, headers=stranger).json()] == [*BUILTIN_TEMPLATES]


def test_a_project_made_from_a_template_keeps_its_version(client: TestClient) -> None:
    headers = sign_up(client)
    template = _create(client, headers, from_template="listicle")
    project = new_project(
        client, headers, template_id=template["id"], settings={"target_duration_s": 20}
    )
    settings = project["settings"]
    assert (project["template_id"], project["template_version"]) == (template["id"], 1)
    assert settings["aspect"] == "9:16" and settings["cards"]["intro"] == "Top 5"
    assert settings["target_duration_s"] == 20  # sent, so the project's own
    assert settings["template"] == {"id": template["id"], "name": "Mine", "version": 1}
    client.patch(
        f"{URL}/{template['id']}", json={"style": {"cards": {"intro": "Top 3"}}}, headers=headers
    )
    again = client.get(f"/api/v1/projects/{project['id']}", headers=headers).json()
    assert again["settings"] == settings and again["template_version"] == 1
    newer = new_project(client, headers, template_id=template["id"])
    assert newer["template_version"] == 2 and newer["settings"]["cards"]["intro"] == "Top 3"

    switched = client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"template_id": "quote", "settings": {"aspect": "1:1"}},
        headers=headers,
    ).json()
    assert (switched["template_id"], switched["template_version"]) == ("quote", 1)
    assert switched["settings"]["aspect"] == "1:1"
    assert switched["settings"]["pacing"]["scene_s"] == 8.0
    cleared = client.patch(
        f"/api/v1/projects/{project['id']}", json={"template_id": None}, headers=headers
    ).json()
    assert cleared["template_id"] is None and cleared["settings"] == switched["settings"]


def test_preview_is_rendered_once_and_cached(client: TestClient) -> None:
    headers = sign_up(client)
    template = _create(client, headers, from_template="product-promo")
    signed = template["preview_url"]
    first = client.get(signed)  # no Authorization: the signed link is enough (<img src>)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert "immutable" in first.headers["cache-control"]
    with Image.open(io.BytesIO(first.content)) as image:
        assert image.size == (240, 240)  # a 480p frame at half size
    platform = client.app.state.platform  # type: ignore[attr-defined]
    keys = list((platform.settings.data_dir / "blobs" / "previews").rglob("*.png"))
    assert len(keys) == 1
    again = client.get(signed, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    latest = client.get(f"{URL}/{template['id']}/preview.png", headers=headers)
    assert (
        latest.content == first.content and latest.headers["cache-control"] == "private, no-cache"
    )
    assert len(list((platform.settings.data_dir / "blobs" / "previews").rglob("*.png"))) == 1
    assert client.get(f"{URL}/{template['id']}/preview.png").status_code == 401
    assert client.get(signed.replace("sig=", "sig=0")).status_code == 401
    builtin = client.get(f"{URL}/quote/preview.png", headers=headers)
    assert builtin.status_code == 200 and builtin.content != first.content
    assert client.delete(f"{URL}/{template['id']}", headers=headers).status_code == 204
    assert not list(
        (platform.settings.data_dir / "blobs" / "previews").rglob(f"*{template['id']}*")
    )


def test_templates_and_versions_per_user_are_bounded(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(templates, "MAX_TEMPLATES", 2)
    monkeypatch.setattr(templates, "MAX_VERSIONS", 2)
    headers = sign_up(client)
    first = _create(client, headers, from_template="quote")
    _create(client, headers, from_template="quote")
    full = client.post(URL, json={"name": "x", "from_template": "quote"}, headers=headers)
    assert full.status_code == 413 and "delete one" in full.json()["detail"]
    url = f"{URL}/{first['id']}"
    assert client.patch(url, json={"name": "v2"}, headers=headers).status_code == 200
    assert client.patch(url, json={"name": "v3"}, headers=headers).status_code == 413
    assert (
        client.post(
            URL, json={"name": "y", "from_template": "quote"}, headers=sign_up(client)
        ).status_code
        == 201
    )


@pytest.mark.slow
def test_editing_a_template_leaves_an_earlier_renders_manifest_unchanged(
    make_client: ClientFactory,
) -> None:
    client = make_client(workers=1)
    headers = sign_up(client)
    template = _create(client, headers, from_template="news-brief", name="Daily")
    settings = {"resolution": "480p", "target_duration_s": 10}
    project = new_project(
        client, headers, template_id=template["id"], settings=settings,
        prompt="Rain is expected tonight. Roads may be slippery.",
    )  # fmt: skip
    submitted = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    assert submitted.status_code == 202, submitted.text
    render_id = submitted.json()["id"]
    assert wait_render(client, headers, render_id)["status"] == "succeeded"
    blobs = client.app.state.platform.blobs  # type: ignore[attr-defined]
    key = render_blob_key(render_id, "manifest.json")
    before = blobs.read_bytes(key)
    manifest = json.loads(before)
    assert manifest["template"]["name"] == "Daily" and manifest["template"]["version"] == 1
    assert manifest["template"]["style"]["captions"]["position"] == "top"
    assert manifest["storyboard"]["scenes"][0]["narration"] == "News brief"  # the intro card

    edited = client.patch(
        f"{URL}/{template['id']}",
        json={"name": "Nightly", "style": {"captions": {"position": "bottom"}}},
        headers=headers,
    )
    assert edited.json()["version"] == 2
    assert blobs.read_bytes(key) == before
    status = client.get(f"/api/v1/renders/{render_id}", headers=headers).json()
    assert status["status"] == "succeeded"


@pytest.mark.slow
def test_every_builtin_renders_through_the_api_with_its_style_in_the_manifest(
    make_client: ClientFactory,
) -> None:
    client = make_client(workers=1)
    headers = sign_up(client)
    settings = {"resolution": "480p", "target_duration_s": 10}
    renders = {}
    for template_id in BUILTIN_TEMPLATES:
        project = new_project(
            client, headers, template_id=template_id, settings=settings,
            prompt="Honey never spoils. Bees make it from nectar.",
        )  # fmt: skip
        submitted = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
        assert submitted.status_code == 202, submitted.text
        renders[template_id] = submitted.json()["id"]
    blobs = client.app.state.platform.blobs  # type: ignore[attr-defined]
    for template_id, render_id in renders.items():
        done = wait_render(client, headers, render_id)
        assert done["status"] == "succeeded", done
        assert float(done["duration_s"]) > 2.0  # type: ignore[arg-type]
        manifest = json.loads(blobs.read_bytes(render_blob_key(render_id, "manifest.json")))
        style = BUILTIN_TEMPLATES[template_id].style.model_dump(mode="json")
        assert manifest["template"] == {
            "id": template_id, "name": BUILTIN_TEMPLATES[template_id].name, "version": 1,
            "style": style,
        }  # fmt: skip
        video = client.get(done["links"]["video"], headers=headers)  # type: ignore[index]
        with av.open(io.BytesIO(video.content)) as container:
            width = container.streams.video[0].codec_context.width
            height = container.streams.video[0].codec_context.height
            assert container.streams.audio
        shape = {"16:9": (854, 480), "9:16": (480, 854), "1:1": (480, 480)}[style["aspect"]]
        assert (width, height) == shape
