"""Ratings of finished renders, and the admin analytics endpoint fed by the facts the
routes record as people use the product (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from reelforge.db.models import ProductEvent

from .conftest import new_project, sign_up
from .test_admin import make_admin
from .test_sharing import email_of, finish, share

ANALYTICS = "/api/v1/admin/analytics"


def finished_render(client: TestClient, owner: dict[str, str]) -> tuple[str, str]:
    """A project with one succeeded render: (project id, render id)."""
    project = new_project(client, owner)
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=owner).json()
    finish(client, render["id"])
    return project["id"], render["id"]


def test_rating_a_render_once_per_user_changeable_and_validated(client: TestClient) -> None:
    owner, viewer, stranger = sign_up(client), sign_up(client), sign_up(client)
    project = new_project(client, owner)
    queued = client.post(f"/api/v1/projects/{project['id']}/renders", headers=owner).json()
    url = f"/api/v1/renders/{queued['id']}/rating"
    assert client.put(url, json={"stars": 4}, headers=owner).status_code == 409  # not finished
    finish(client, queued["id"])
    assert client.get(url, headers=owner).status_code == 404  # not rated yet

    rated = client.put(url, json={"stars": 4}, headers=owner)
    assert rated.status_code == 200, rated.text
    assert (rated.json()["stars"], rated.json()["comment"]) == (4, "")
    changed = client.put(url, json={"stars": 5, "comment": " Lovely voice "}, headers=owner)
    assert (changed.json()["stars"], changed.json()["comment"]) == (5, "Lovely voice")
    assert changed.json()["created_at"] == rated.json()["created_at"]  # the same rating
    assert client.get(url, headers=owner).json()["stars"] == 5

    for bad in ({"stars": 0}, {"stars": 6}, {"stars": "five"}, {}, {"stars": 3, "extra": 1}):
        assert client.put(url, json=bad, headers=owner).status_code == 422, bad
    assert client.put(url, json={"stars": 3}, headers=stranger).status_code == 404
    assert client.get(url, headers=stranger).status_code == 404

    share(client, owner, project["id"], viewer, "viewer")  # a member who can watch, rates
    assert client.put(url, json={"stars": 2}, headers=viewer).json()["stars"] == 2
    assert client.get(url, headers=owner).json()["stars"] == 5  # each their own


def metrics_of(body: dict[str, Any]) -> dict[str, Any]:
    return {m["key"]: m for m in body["metrics"]}


def test_analytics_are_for_admins_and_count_what_people_did(client: TestClient) -> None:
    admin, user = sign_up(client, "admin@example.org"), sign_up(client)
    make_admin(client, "admin@example.org")
    weak = client.post(
        "/api/v1/auth/register", json={"email": "weak@example.org", "password": "123"}
    )
    assert weak.status_code == 422  # a registration started, never completed
    project_id, render_id = finished_render(client, user)
    video = client.get(f"/api/v1/renders/{render_id}/video", headers=user)
    assert video.status_code == 200
    sought = client.get(f"/api/v1/renders/{render_id}/video", headers=user | {"Range": "bytes=4-"})
    assert sought.status_code == 206  # a seek in the player: not another play
    client.put(f"/api/v1/renders/{render_id}/rating", json={"stars": 4}, headers=user)
    share(client, user, project_id, admin, "viewer")

    assert client.get(ANALYTICS, headers=user).status_code == 404  # like every admin route
    assert client.get(f"{ANALYTICS}?since=forever", headers=admin).status_code == 422
    answer = client.get(f"{ANALYTICS}?since=1d", headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    got = metrics_of(body)
    assert got["registration_completion"]["value"] == 2 / 3
    assert got["video_completion"]["value"] == 1.0 and got["video_completion"]["met"] is True
    assert got["satisfaction"]["value"] == 4.0
    assert got["adoption_sharing"]["value"] == 0.5  # the user shared; the admin did not
    assert got["uptime"]["value"] is None  # no probe yet: the loop writes once a minute
    assert body["rating_distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert body["counts"]["active_users"] == 2 and body["counts"]["projects_created"] == 1

    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session:
        plays = session.scalar(select(func.count()).where(ProductEvent.kind == "video_played"))
        kinds = set(session.scalars(select(ProductEvent.kind).distinct()))
    assert plays == 1
    assert kinds >= {
        "registration_started", "registration_completed", "login", "project_created",
        "render_submitted", "video_played", "rating_left", "project_shared",
    }  # fmt: skip
    assert email_of(client, user) not in str(body)
