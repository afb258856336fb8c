"""Sharing on SQLite and PostgreSQL: roles (viewer reads, editor writes and submits on the
owner's plan, a stranger sees nothing), revoking at once (open WebSockets included),
public links, the activity feed and comments, and ETag/If-Match on the storyboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from reelforge.api.deps import now
from reelforge.db.models import JobState, RenderJob
from reelforge.jobs.kinds import render_blob_key

from .conftest import new_project, sign_up
from .test_live import receive

STORYBOARD = {"title": "Tides", "scenes": [{"narration": "Tides rise twice a day."}]}
PROBLEM = "urn:reelforge:problem:"


def email_of(client: TestClient, headers: dict[str, str]) -> str:
    email: str = client.get("/api/v1/users/me", headers=headers).json()["email"]
    return email


def share(
    client: TestClient, owner: dict[str, str], project_id: str, guest: dict[str, str], role: str
) -> dict[str, Any]:
    """Invites `guest` and has them accept; returns the membership."""
    invited = client.post(
        f"/api/v1/projects/{project_id}/members",
        json={"email": email_of(client, guest), "role": role}, headers=owner,
    )  # fmt: skip
    assert invited.status_code == 201, invited.text
    [invitation] = client.get("/api/v1/invitations", headers=guest).json()
    assert (invitation["project_id"], invitation["role"]) == (project_id, role)
    accepted = client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=guest)
    assert accepted.status_code == 200, accepted.text
    member: dict[str, Any] = accepted.json()
    return member


def finish(client: TestClient, render_id: str) -> None:
    """Marks a render succeeded with a small stand-in video, as the worker would publish."""
    platform = client.app.state.platform  # type: ignore[attr-defined]
    platform.blobs.put_bytes(
        render_blob_key(render_id, "video.mp4"), b"not-really-mp4", "video/mp4"
    )
    with platform.engine.begin() as conn:
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id == uuid.UUID(render_id))
            .values(
                state=JobState.SUCCEEDED, finished_at=datetime.now(UTC), progress=1.0,
                result={"duration_s": 3.0, "blobs": {"video": "video.mp4"}},
            )
        )  # fmt: skip


def test_a_viewer_reads_but_cannot_edit_and_a_stranger_sees_nothing(client: TestClient) -> None:
    owner, viewer, stranger = sign_up(client), sign_up(client), sign_up(client)
    project = new_project(client, owner)
    url = f"/api/v1/projects/{project['id']}"
    assert client.put(f"{url}/storyboard", json=STORYBOARD, headers=owner).status_code == 200
    render = client.post(f"{url}/renders", headers=owner).json()

    # Invited but not yet accepted: nothing to see.
    client.post(f"{url}/members", json={"email": email_of(client, viewer)}, headers=owner)
    assert client.get(url, headers=viewer).status_code == 404
    [invitation] = client.get("/api/v1/invitations", headers=viewer).json()
    client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=viewer)

    seen = client.get(url, headers=viewer)
    assert seen.status_code == 200
    assert (seen.json()["role"], seen.json()["shared"]) == ("viewer", True)
    assert client.get(f"{url}/storyboard", headers=viewer).json()["title"] == "Tides"
    assert client.get(f"/api/v1/renders/{render['id']}", headers=viewer).status_code == 200
    listed = client.get(f"/api/v1/renders?project_id={project['id']}", headers=viewer).json()
    assert [r["id"] for r in listed["items"]] == [render["id"]]
    dashboard = client.get("/api/v1/projects", headers=viewer).json()["items"]
    assert [(p["id"], p["role"], p["shared"]) for p in dashboard] == [
        (project["id"], "viewer", True)
    ]
    assert client.get("/api/v1/projects", headers=owner).json()["items"][0]["role"] == "owner"

    refused = [
        client.put(f"{url}/storyboard", json=STORYBOARD, headers=viewer),
        client.patch(url, json={"name": "mine"}, headers=viewer),
        client.post(f"{url}/renders", headers=viewer),
        client.delete(url, headers=viewer),
        client.post(f"{url}/members", json={"email": "x@example.org"}, headers=viewer),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert refused[0].headers["content-type"] == "application/problem+json"
    assert refused[0].json()["type"] == PROBLEM + "forbidden"

    for path in (url, f"{url}/storyboard", f"/api/v1/renders/{render['id']}", f"{url}/activity"):
        assert client.get(path, headers=stranger).status_code == 404, path
    assert client.put(f"{url}/storyboard", json=STORYBOARD, headers=stranger).status_code == 404
    assert client.get("/api/v1/projects", headers=stranger).json()["total"] == 0


def test_an_editor_edits_and_submits_on_the_owners_plan(client: TestClient) -> None:
    owner, editor = sign_up(client), sign_up(client)
    project = new_project(client, owner)
    url = f"/api/v1/projects/{project['id']}"
    share(client, owner, project["id"], editor, "editor")

    saved = client.put(f"{url}/storyboard", json=STORYBOARD, headers=editor)
    assert saved.status_code == 200, saved.text
    assert client.patch(url, json={"name": "Tides, edited"}, headers=editor).status_code == 200
    submitted = client.post(f"{url}/renders", headers=editor)
    assert submitted.status_code == 202, submitted.text

    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session:
        job = session.scalars(select(RenderJob)).one()
    owner_me = client.get("/api/v1/users/me", headers=owner).json()
    assert str(job.owner_id) == owner_me["id"]
    assert owner_me["usage"]["waiting"] == 1
    assert client.get("/api/v1/users/me", headers=editor).json()["usage"]["waiting"] == 0
    # ...and the owner alone deletes or shares it.
    assert client.delete(url, headers=editor).status_code == 403
    assert client.get(f"{url}/links", headers=editor).status_code == 403


def test_the_owner_changes_a_role_and_an_invitee_can_decline(client: TestClient) -> None:
    owner, guest, other = sign_up(client), sign_up(client), sign_up(client)
    project = new_project(client, owner)
    url = f"/api/v1/projects/{project['id']}"
    member = share(client, owner, project["id"], guest, "viewer")
    assert client.patch(url, json={"name": "x"}, headers=guest).status_code == 403
    changed = client.patch(f"{url}/members/{member['id']}", json={"role": "editor"}, headers=owner)
    assert changed.json()["role"] == "editor"
    assert client.patch(url, json={"name": "x"}, headers=guest).status_code == 200

    client.post(f"{url}/members", json={"email": email_of(client, other)}, headers=owner)
    [invitation] = client.get("/api/v1/invitations", headers=other).json()
    assert client.post(f"/api/v1/invitations/{invitation['id']}/decline", headers=other).is_success
    assert client.get("/api/v1/invitations", headers=other).json() == []
    assert client.get(url, headers=other).status_code == 404
    members = client.get(f"{url}/members", headers=owner).json()
    assert [(m["email"], m["role"], m["status"]) for m in members] == [
        (email_of(client, guest), "editor", "accepted")
    ]
    again = client.post(f"{url}/members", json={"email": email_of(client, guest)}, headers=owner)
    assert again.status_code == 409
    nobody = client.post(f"{url}/members", json={"email": "nobody@example.org"}, headers=owner)
    assert nobody.status_code == 422


def test_revoking_is_immediate_including_an_open_websocket(client: TestClient) -> None:
    owner, member = sign_up(client), sign_up(client)
    project = new_project(client, owner)
    url = f"/api/v1/projects/{project['id']}"
    token = member["Authorization"].removeprefix("Bearer ")
    own_project = new_project(client, member)

    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        membership = share(client, owner, project["id"], member, "viewer")
        [invited] = receive(ws, 1)
        assert (invited["type"], invited["data"]["project_id"]) == ("invited", project["id"])
        first = client.post(f"{url}/renders", headers=owner).json()
        [event] = receive(ws, 1)
        assert (event["type"], event["render_id"]) == ("queued", first["id"])

        assert client.delete(f"{url}/members/{membership['id']}", headers=owner).status_code == 204
        [told] = receive(ws, 1)
        assert (told["type"], told["data"]) == ("access_revoked", {"project_id": project["id"]})

        # The project's next event does not reach the socket; the member's own one does.
        second = client.post(f"{url}/renders", headers=owner).json()
        client.post(f"/api/v1/renders/{second['id']}/cancel", headers=owner)
        mine = client.post(f"/api/v1/projects/{own_project['id']}/renders", headers=member).json()
        [next_event] = receive(ws, 1)
        assert (next_event["type"], next_event["render_id"]) == ("queued", mine["id"])

    assert client.get(url, headers=member).status_code == 404
    assert client.get(f"/api/v1/renders/{first['id']}", headers=member).status_code == 404
    assert client.get("/api/v1/projects", headers=member).json()["total"] == 1


def test_a_public_link_plays_without_sign_in_until_revoked_or_expired(client: TestClient) -> None:
    owner = sign_up(client)
    project = new_project(client, owner)
    url = f"/api/v1/projects/{project['id']}"
    render = client.post(f"{url}/renders", headers=owner).json()
    early = client.post(f"{url}/links", json={"render_id": render["id"]}, headers=owner)
    assert early.status_code == 409  # not finished yet
    finish(client, render["id"])

    created = client.post(f"{url}/links", json={"render_id": render["id"]}, headers=owner)
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["url"] == f"/s/{link['token']}" and len(link["token"]) > 40
    shown = client.get(f"/api/v1/public/{link['token']}")  # no Authorization header
    assert shown.status_code == 200, shown.text
    video = client.get(shown.json()["links"]["video"])
    assert (video.status_code, video.content) == (200, b"not-really-mp4")

    assert client.delete(f"{url}/links/{link['id']}", headers=owner).status_code == 204
    assert client.get(f"/api/v1/public/{link['token']}").status_code == 404
    [listed] = client.get(f"{url}/links", headers=owner).json()
    assert listed["revoked_at"] is not None

    expiring = client.post(
        f"{url}/links", json={"render_id": render["id"], "expires_in_s": 3600}, headers=owner
    ).json()
    assert client.get(f"/api/v1/public/{expiring['token']}").status_code == 200
    later = datetime.now(UTC) + timedelta(hours=2)
    client.app.dependency_overrides[now] = lambda: later  # type: ignore[attr-defined]
    try:
        assert client.get(f"/api/v1/public/{expiring['token']}").status_code == 404
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert client.get("/api/v1/public/rfs_made-up").status_code == 404


def test_activity_feed_and_scene_comments(client: TestClient) -> None:
    owner, editor = sign_up(client), sign_up(client)
    project = new_project(client, owner)
    url = f"/api/v1/projects/{project['id']}"
    share(client, owner, project["id"], editor, "editor")
    client.put(f"{url}/storyboard", json=STORYBOARD, headers=editor)
    render = client.post(f"{url}/renders", headers=editor).json()
    finish(client, render["id"])
    posted = client.post(f"{url}/comments", json={"scene": 0, "body": "Love it"}, headers=owner)
    assert posted.status_code == 201, posted.text
    client.post(f"{url}/comments", json={"scene": 1, "body": "Shorter?"}, headers=editor)

    comments = client.get(f"{url}/comments?scene=0", headers=editor).json()
    assert [(c["scene"], c["body"]) for c in comments] == [(0, "Love it")]
    assert len(client.get(f"{url}/comments", headers=editor).json()) == 2
    feed = client.get(f"{url}/activity", headers=editor).json()
    actions = [entry["action"] for entry in reversed(feed)]
    assert actions == [
        "shared", "joined", "storyboard_edited", "render_submitted", "render_succeeded",
        "commented", "commented",
    ]  # fmt: skip
    assert feed[-1]["actor"] == email_of(client, owner)


def test_a_stale_if_match_gets_412_and_the_etag_follows_each_write(client: TestClient) -> None:
    owner = sign_up(client)
    project = new_project(client, owner)
    url = f"/api/v1/projects/{project['id']}/storyboard"
    first = client.put(url, json=STORYBOARD, headers=owner)
    etag = first.headers["ETag"]
    assert client.get(url, headers=owner).headers["ETag"] == etag
    second = client.put(url, json=STORYBOARD, headers=owner | {"If-Match": etag})
    assert second.status_code == 200 and second.headers["ETag"] != etag

    stale = client.put(url, json=STORYBOARD, headers=owner | {"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["type"] == PROBLEM + "precondition-failed"
    # A settings change also makes a storyboard read before it stale.
    current = client.get(url, headers=owner).headers["ETag"]
    client.patch(f"/api/v1/projects/{project['id']}", json={"settings": {"seed": 9}}, headers=owner)
    assert (
        client.put(url, json=STORYBOARD, headers=owner | {"If-Match": current}).status_code == 412
    )
    assert client.put(url, json=STORYBOARD, headers=owner).status_code == 200  # overwrite


def test_editors_cancel_and_retry_renders_viewers_only_watch(client: TestClient) -> None:
    owner, editor, viewer = sign_up(client), sign_up(client), sign_up(client)
    project = new_project(client, owner)
    share(client, owner, project["id"], editor, "editor")
    share(client, owner, project["id"], viewer, "viewer")
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=owner).json()
    url = f"/api/v1/renders/{render['id']}"

    assert client.post(f"{url}/cancel", headers=viewer).status_code == 403
    assert client.post(f"{url}/cancel", headers=editor).status_code == 202
    retried = client.post(f"{url}/retry", headers=editor)
    assert retried.status_code == 202, retried.text
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session:
        again = session.get(RenderJob, uuid.UUID(retried.json()["id"]))
        assert again is not None and again.owner_id == uuid.UUID(render_owner(client, owner))
    assert client.delete(url, headers=editor).status_code == 403
    assert client.delete(url, headers=owner).status_code == 204


def render_owner(client: TestClient, headers: dict[str, str]) -> str:
    user_id: str = client.get("/api/v1/users/me", headers=headers).json()["id"]
    return user_id


def test_a_shared_projects_events_reach_every_members_websocket(client: TestClient) -> None:
    owner, editor, viewer = sign_up(client), sign_up(client), sign_up(client)
    project = new_project(client, owner)
    share(client, owner, project["id"], editor, "editor")
    share(client, owner, project["id"], viewer, "viewer")
    urls = [  # from now on: not the invitations before
        f"/api/v1/ws?token={h['Authorization'].removeprefix('Bearer ')}"
        f"&after={client.get('/api/v1/events/latest', headers=h).json()['id']}"
        for h in (owner, editor, viewer)
    ]

    with (
        client.websocket_connect(urls[0]) as owner_ws,
        client.websocket_connect(urls[1]) as editor_ws,
        client.websocket_connect(urls[2]) as viewer_ws,
    ):
        render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=editor).json()
        client.post(f"/api/v1/renders/{render['id']}/cancel", headers=editor)
        for ws in (owner_ws, editor_ws, viewer_ws):
            seen = [(e["type"], e["render_id"]) for e in receive(ws, 2)]
            assert seen == [("queued", render["id"]), ("canceled", render["id"])]
