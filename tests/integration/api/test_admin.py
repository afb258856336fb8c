"""Admin routes: admins only; queue health, failed renders, plans with an audit trail."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from reelforge.db.crud import users
from reelforge.db.models import Event, JobState, RenderJob

from .conftest import new_project, sign_up


def make_admin(client: TestClient, email: str) -> None:
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.writer_sessions.begin() as session:
        user = users.get_by_email(session, email)
        assert user is not None
        user.is_admin = True


def test_admin_routes_need_an_admin(client: TestClient) -> None:
    headers = sign_up(client)
    for path in ("/api/v1/admin/queue", "/api/v1/admin/users", "/api/v1/admin/renders/failed"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert response.json()["type"] == "urn:reelforge:problem:forbidden"


def test_admin_sees_queue_and_failures_and_changes_plans(client: TestClient) -> None:
    admin = sign_up(client, "admin@example.org")
    make_admin(client, "admin@example.org")
    user = sign_up(client, "user@example.org")
    project = new_project(client, user)
    renders = [
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=user).json()
        for _ in range(2)
    ]
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.engine.begin() as conn:
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id == uuid.UUID(renders[0]["id"]))
            .values(state=JobState.FAILED, error_class="system", error_message="disk full")
        )
    queue = client.get("/api/v1/admin/queue", headers=admin).json()
    assert queue["queued_by_plan"] == {"free": 1}
    failed = client.get("/api/v1/admin/renders/failed?error_class=system", headers=admin).json()
    assert [(f["id"], f["error_message"]) for f in failed] == [(renders[0]["id"], "disk full")]

    admin_id = client.get("/api/v1/users/me", headers=admin).json()["id"]
    with platform.engine.begin() as conn:  # what the manager writes when a worker hits one
        conn.execute(
            insert(Event).values(
                user_id=uuid.UUID(admin_id), job_id=uuid.UUID(renders[1]["id"]),
                type="system_error", data={"message": "disk full", "stage": "compose"},
            )
        )  # fmt: skip
    alerts = client.get("/api/v1/admin/alerts", headers=admin).json()
    assert [(a["render_id"], a["data"]["stage"]) for a in alerts] == [(renders[1]["id"], "compose")]

    listed = client.get("/api/v1/admin/users", headers=admin).json()
    target = next(u for u in listed if u["email"] == "user@example.org")
    changed = client.patch(
        f"/api/v1/admin/users/{target['id']}", json={"plan": "pro"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["plan"] == "pro"
    assert client.get("/api/v1/users/me", headers=user).json()["limits"]["concurrent_renders"] == 4
    audit = client.get("/api/v1/admin/audit", headers=admin).json()
    assert audit[0]["action"] == "admin.user.update" and audit[0]["detail"] == {"plan": "pro"}
