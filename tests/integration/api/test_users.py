"""My profile, plan limits and usage; secrets I store are encrypted at rest, never returned."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from reelforge.db.models import UserSecret

from .conftest import new_project, sign_up


def test_me_shows_plan_limits_and_usage(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers, settings={"target_duration_s": 30})
    client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    me = client.get("/api/v1/users/me", headers=headers).json()
    assert me["limits"] == {
        "concurrent_renders": 1, "max_duration_s": 60.0, "max_resolution": "720p",
        "monthly_minutes": 30.0, "max_waiting": 5, "storage_bytes": 500_000_000,
        "max_upload_bytes": 50_000_000, "max_asset_duration_s": 300.0, "max_batch_rows": 5,
    }  # fmt: skip
    stored = me["usage"].pop("storage_bytes")
    assert 500 < stored < 5000  # the project and the render's snapshot of it
    assert me["usage"] == {
        "minutes_this_month": 0.5,
        "running": 0,
        "waiting": 1,
        "cost_usd_this_month": 0.0,
    }
    renamed = client.patch("/api/v1/users/me", json={"name": " Ann "}, headers=headers)
    assert renamed.json()["name"] == "Ann"
    assert (
        client.patch("/api/v1/users/me", json={"plan": "pro"}, headers=headers).status_code == 422
    )


def test_secrets_are_encrypted_at_rest_and_never_returned(client: TestClient) -> None:
    headers = sign_up(client)
    stored = client.put(
        "/api/v1/users/me/secrets/openai", json={"value": "sk-very-secret-123"}, headers=headers
    )
    assert stored.status_code == 200 and "sk-very" not in stored.text
    listed = client.get("/api/v1/users/me/secrets", headers=headers)
    assert [s["name"] for s in listed.json()] == ["openai"] and "sk-very" not in listed.text

    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session:
        row = session.scalar(select(UserSecret))
        assert row is not None and "sk-very" not in row.ciphertext
        context = f"{row.user_id}:openai"
        assert platform.secret_box.decrypt(row.ciphertext, context=context) == "sk-very-secret-123"
    bad_name = client.put("/api/v1/users/me/secrets/Bad Name", json={"value": "x"}, headers=headers)
    assert bad_name.status_code == 422
    assert client.delete("/api/v1/users/me/secrets/openai", headers=headers).status_code == 204
    assert client.get("/api/v1/users/me/secrets", headers=headers).json() == []


def test_a_users_own_provider_key_is_used_for_their_renders(client: TestClient) -> None:
    from reelforge.jobs.manager import ClaimedJob

    mine, theirs = sign_up(client), sign_up(client)
    client.put("/api/v1/users/me/secrets/pexels", json={"value": "px-mine"}, headers=mine)
    platform = client.app.state.platform  # type: ignore[attr-defined]
    platform.settings.providers.visual_chain = ["pexels"]
    ids = {
        name: client.get("/api/v1/users/me", headers=headers).json()["id"]
        for name, headers in (("mine", mine), ("theirs", theirs))
    }

    def providers(owner: str) -> Any:
        job = ClaimedJob(uuid.uuid4(), uuid.UUID(ids[owner]), "render", {}, 1, 3, {})
        return platform.providers_for(job)

    assert [(s.id, s._key) for s in providers("mine").visuals] == [("pexels", "px-mine")]
    assert providers("theirs").visuals == ()  # no server key, and not someone else's


def test_usage_is_one_aggregate_query(client: TestClient) -> None:
    from sqlalchemy import event

    from reelforge.db.crud import users
    from reelforge.db.models import utcnow

    headers = sign_up(client)
    project = new_project(client, headers, settings={"target_duration_s": 12})
    for _ in range(3):
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    platform = client.app.state.platform  # type: ignore[attr-defined]
    statements: list[str] = []

    def seen(*args: Any) -> None:
        if args[2] != "BEGIN":  # SQLite's explicit begin
            statements.append(args[2])

    me = client.get("/api/v1/users/me", headers=headers).json()
    with platform.sessions() as session:
        event.listen(platform.engine, "before_cursor_execute", seen)
        try:
            used = users.usage(session, uuid.UUID(me["id"]), utcnow())
        finally:
            event.remove(platform.engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and "payload" in statements[0]
    assert used.waiting == 3 and used.minutes_this_month == 36 / 60
    assert (me["usage"]["minutes_this_month"], me["usage"]["waiting"]) == (0.6, 3)


def test_the_number_of_secrets_is_capped(client: TestClient) -> None:
    from reelforge.db.crud.secrets import MAX_SECRETS

    headers = sign_up(client)
    for i in range(MAX_SECRETS):
        stored = client.put(f"/api/v1/users/me/secrets/s{i}", json={"value": "v"}, headers=headers)
        assert stored.status_code == 200
    refused = client.put("/api/v1/users/me/secrets/one_more", json={"value": "v"}, headers=headers)
    assert refused.status_code == 413
    assert refused.json()["type"] == "urn:reelforge:problem:storage-quota"
    replaced = client.put("/api/v1/users/me/secrets/s0", json={"value": "w"}, headers=headers)
    assert replaced.status_code == 200
    assert len(client.get("/api/v1/users/me/secrets", headers=headers).json()) == MAX_SECRETS
