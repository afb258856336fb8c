"""User isolation: every route that names a resource answers 404 for another user's one
(never 403, which would leak that it exists). The table must cover every such route."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import update

from reelforge.db.models import JobState, RenderJob

from .conftest import new_project, sign_up

STORYBOARD = {"scenes": [{"narration": "Tides rise twice a day."}]}
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/projects/{project_id}", None),
    ("PATCH", "/api/v1/projects/{project_id}", {"name": "mine now"}),
    ("DELETE", "/api/v1/projects/{project_id}", None),
    ("GET", "/api/v1/projects/{project_id}/storyboard", None),
    ("PUT", "/api/v1/projects/{project_id}/storyboard", STORYBOARD),
    ("DELETE", "/api/v1/projects/{project_id}/storyboard", None),
    ("POST", "/api/v1/projects/{project_id}/storyboard/draft", None),
    ("POST", "/api/v1/projects/{project_id}/renders", None),
    ("GET", "/api/v1/renders/{render_id}", None),
    ("POST", "/api/v1/renders/{render_id}/cancel", None),
    ("DELETE", "/api/v1/renders/{render_id}", None),
    ("POST", "/api/v1/renders/{render_id}/retry", None),
    ("GET", "/api/v1/renders/{render_id}/{file}", None),
    ("GET", "/api/v1/renders/{render_id}/rating", None),
    ("PUT", "/api/v1/renders/{render_id}/rating", {"stars": 5}),
    ("DELETE", "/api/v1/auth/sessions/{session_id}", None),
    ("DELETE", "/api/v1/auth/api-keys/{key_id}", None),
    ("DELETE", "/api/v1/users/me/secrets/{name}", None),
    ("GET", "/api/v1/assets/{asset_id}", None),
    ("PATCH", "/api/v1/assets/{asset_id}", {"name": "mine now"}),
    ("DELETE", "/api/v1/assets/{asset_id}", None),
    ("GET", "/api/v1/assets/{asset_id}/{file}", None),
    ("GET", "/api/v1/templates/{template_id}", None),
    ("PATCH", "/api/v1/templates/{template_id}", {"name": "mine now"}),
    ("DELETE", "/api/v1/templates/{template_id}", None),
    ("GET", "/api/v1/templates/{template_id}/preview.png", None),
    ("GET", "/api/v1/projects/{project_id}/members", None),
    ("POST", "/api/v1/projects/{project_id}/members", {"email": "x@example.org"}),
    ("PATCH", "/api/v1/projects/{project_id}/members/{member_id}", {"role": "editor"}),
    ("DELETE", "/api/v1/projects/{project_id}/members/{member_id}", None),
    ("POST", "/api/v1/invitations/{invitation_id}/accept", None),
    ("POST", "/api/v1/invitations/{invitation_id}/decline", None),
    ("GET", "/api/v1/projects/{project_id}/links", None),
    ("POST", "/api/v1/projects/{project_id}/links", {"render_id": "{render_id}"}),
    ("DELETE", "/api/v1/projects/{project_id}/links/{link_id}", None),
    ("GET", "/api/v1/public/{token}", None),
    ("GET", "/api/v1/projects/{project_id}/activity", None),
    ("GET", "/api/v1/projects/{project_id}/comments", None),
    ("POST", "/api/v1/projects/{project_id}/comments", {"scene": 0, "body": "mine"}),
    ("GET", "/api/v1/batches/{batch_id}", None),
    ("POST", "/api/v1/batches/{batch_id}/cancel", None),
    ("POST", "/api/v1/batches/{batch_id}/retry", None),
    ("GET", "/api/v1/batches/{batch_id}/results.csv", None),
    ("GET", "/api/v1/batches/{batch_id}/download.zip", None),
]
EXEMPT = {
    ("PATCH", "/api/v1/admin/users/{user_id}"),
    ("PUT", "/api/v1/users/me/secrets/{name}"),
    ("GET", "/api/v1/voices/{voice}/sample"),
}
"""Admin routes act on any user by design (admins only); PUT on /me creates the caller's own;
voice samples are the same for everyone."""
WEBHOOK_ROUTES = {
    ("GET", "/api/v1/webhooks/{webhook_id}"),
    ("PATCH", "/api/v1/webhooks/{webhook_id}"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"),
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
}
"""Isolated too, all six in one test with one set-up (`test_webhooks.py::
test_another_users_webhook_is_not_found`): here each route would rebuild every resource."""


def test_the_table_covers_every_route_with_an_id(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    with_ids = {
        (method.upper(), path)
        for path, methods in paths.items()
        if "{" in path
        for method in methods
    }
    assert with_ids - EXEMPT - WEBHOOK_ROUTES == {(method, path) for method, path, _ in ROUTES}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_another_users_resource_is_404(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    owner = sign_up(client)
    project = new_project(client, owner)
    client.put(f"/api/v1/projects/{project['id']}/storyboard", json=STORYBOARD, headers=owner)
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=owner).json()
    rows = {"name": "Batch", "rows": [{"prompt": "Tides rise twice a day."}]}
    batch = client.post("/api/v1/batches", json=rows, headers=owner).json()
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.engine.begin() as conn:  # finished, so every render route applies
        conn.execute(update(RenderJob).values(state=JobState.FAILED, error_class="provider"))
    owner_session = client.get("/api/v1/auth/sessions", headers=owner).json()[0]["id"]
    owner_key = client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=owner).json()["id"]
    secret = {"value": "sk-owner"}
    assert client.put("/api/v1/users/me/secrets/openai", json=secret, headers=owner).is_success
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    files = {"file": ("logo.png", png.getvalue())}
    asset = client.post("/api/v1/assets", files=files, headers=owner).json()
    mine = {"name": "House style", "from_template": "explainer"}
    template = client.post("/api/v1/templates", json=mine, headers=owner).json()
    guest = sign_up(client, "guest-" + uuid.uuid4().hex[:8] + "@example.org")
    guest_email = client.get("/api/v1/users/me", headers=guest).json()["email"]
    invited = client.post(
        f"/api/v1/projects/{project['id']}/members", json={"email": guest_email}, headers=owner
    ).json()
    ids = {
        "project_id": project["id"], "render_id": render["id"], "session_id": owner_session,
        "key_id": owner_key, "file": "file" if "assets" in path else "video", "name": "openai",
        "member_id": invited["id"], "invitation_id": invited["id"], "link_id": str(uuid.uuid4()),
        "token": "rfs_unknown", "asset_id": asset["id"], "template_id": template["id"],
        "batch_id": batch["id"],
    }  # fmt: skip
    url = path.format(**ids)
    if body is not None and body.get("render_id") == "{render_id}":
        body = {"render_id": render["id"]}

    intruder = sign_up(client)
    response = client.request(method, url, json=body, headers=intruder)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # ...and the owner still has it, untouched.
    assert client.get(f"/api/v1/projects/{project['id']}", headers=owner).json()["name"] == "Tides"
    assert client.get(f"/api/v1/renders/{render['id']}", headers=owner).status_code == 200
    secrets = client.get("/api/v1/users/me/secrets", headers=owner).json()
    assert [s["name"] for s in secrets] == ["openai"]
    assert client.get(f"/api/v1/assets/{asset['id']}", headers=owner).json()["name"] == "logo"
    kept = client.get(f"/api/v1/templates/{template['id']}", headers=owner).json()
    assert (kept["name"], kept["version"]) == ("House style", 1)
    kept_batch = client.get(f"/api/v1/batches/{batch['id']}", headers=owner).json()
    assert kept_batch["counts"]["failed"] == 1  # not canceled nor retried by the intruder


def test_lists_only_show_my_own(client: TestClient) -> None:
    mine, theirs = sign_up(client), sign_up(client)
    new_project(client, mine, name="mine")
    new_project(client, theirs, name="theirs")
    listed = client.get("/api/v1/projects", headers=mine).json()
    assert [p["name"] for p in listed["items"]] == ["mine"] and listed["total"] == 1
