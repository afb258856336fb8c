"""Deleted projects' and renders' files (issue #20), on SQLite and PostgreSQL, with local
files and with S3 (SeaweedFS): the rows go at once (the quota drops, the links stop), the
files go right after (or once `REELFORGE_RETENTION__DELETED_FILES_HOURS` has passed, by the
prune), and nobody else's files, nor the owner's uploads, are ever touched."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from reelforge.db.models import BlobTombstone, JobState, RenderJob
from reelforge.errors import StorageError
from reelforge.jobs.kinds import RENDER_FILES, render_blob_folder, render_blob_key
from reelforge.platform.services import Platform
from tests.support.media import solid_image
from tests.support.seaweed import S3Endpoint

from .conftest import ClientFactory, new_project, sign_up
from .test_assets import uploaded
from .test_sharing import share

RENDER_BYTES = 5000
"""What each stand-in render's files add up to (its `result.bytes`)."""


@pytest.fixture(params=["local", "s3"])
def make_store_client(
    request: pytest.FixtureRequest, make_client: ClientFactory
) -> Callable[..., TestClient]:
    """`make_client` over the local blob store, or over a fresh bucket on SeaweedFS."""
    if request.param == "local":
        return make_client
    seaweed: S3Endpoint = request.getfixturevalue("seaweed")
    s3 = {
        "bucket": f"retention-{uuid.uuid4().hex[:8]}", "endpoint_url": seaweed.url,
        "region": seaweed.region, "access_key_id": seaweed.access_key_id,
        "secret_access_key": seaweed.secret_access_key,
    }  # fmt: skip

    def build(**overrides: Any) -> TestClient:
        return make_client(storage="s3", s3=s3, **overrides)

    return build


def platform_of(client: TestClient) -> Platform:
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    return platform


def finished_render(client: TestClient, headers: dict[str, str], project_id: str) -> str:
    """A render submitted through the API, then published as a worker would: every file
    under `renders/<id>/` and `result.bytes` for the quota."""
    response = client.post(f"/api/v1/projects/{project_id}/renders", headers=headers)
    assert response.status_code == 202, response.text
    render_id: str = response.json()["id"]
    platform = platform_of(client)
    share_bytes = RENDER_BYTES // len(RENDER_FILES)
    for blob_name, content_type in RENDER_FILES.values():
        platform.blobs.put_bytes(
            render_blob_key(render_id, blob_name), b"x" * share_bytes, content_type
        )
    blobs = {name: blob_name for name, (blob_name, _) in RENDER_FILES.items()}
    with platform.engine.begin() as conn:
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id == uuid.UUID(render_id))
            .values(
                state=JobState.SUCCEEDED, finished_at=datetime.now(UTC), progress=1.0,
                result={"duration_s": 3.0, "bytes": RENDER_BYTES, "blobs": blobs},
            )
        )  # fmt: skip
    return render_id


def stored(client: TestClient, render_id: str) -> set[str]:
    return set(platform_of(client).blobs.keys(render_blob_folder(render_id)))


def usage(client: TestClient, headers: dict[str, str]) -> int:
    used: int = client.get("/api/v1/users/me", headers=headers).json()["usage"]["storage_bytes"]
    return used


def tombstones(client: TestClient) -> int:
    with platform_of(client).sessions() as session:
        return session.scalar(select(func.count()).select_from(BlobTombstone)) or 0


def test_deleting_a_project_removes_its_renders_files_and_frees_the_quota(
    make_store_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_store_client()
    owner, editor, other = sign_up(client), sign_up(client), sign_up(client)
    doomed, kept = new_project(client, owner), new_project(client, owner, name="Kept")
    logo = uploaded(client, owner, solid_image(tmp_path / "logo.png", (9, 9, 200)))
    share(client, owner, doomed["id"], editor, "editor")
    by_owner = finished_render(client, owner, doomed["id"])
    by_editor = finished_render(client, editor, doomed["id"])  # the owner's, on their plan
    queued = client.post(f"/api/v1/projects/{doomed['id']}/renders", headers=owner).json()["id"]
    survivor = finished_render(client, owner, kept["id"])
    others = finished_render(client, other, new_project(client, other)["id"])
    editors_own = finished_render(client, editor, new_project(client, editor)["id"])
    everyone = {by_owner, by_editor, survivor, others, editors_own}
    assert all(len(stored(client, render)) == len(RENDER_FILES) for render in everyone)
    before = usage(client, owner)
    other_before, editor_before = usage(client, other), usage(client, editor)

    assert client.delete(f"/api/v1/projects/{doomed['id']}", headers=editor).status_code == 403
    deleted = client.delete(f"/api/v1/projects/{doomed['id']}", headers=owner)
    assert deleted.status_code == 204, deleted.text

    # Gone for every user who could see them, files and all.
    for render in (by_owner, by_editor, queued):
        assert client.get(f"/api/v1/renders/{render}", headers=owner).status_code == 404
        assert client.get(f"/api/v1/renders/{render}/video", headers=owner).status_code == 404
        assert stored(client, render) == set()
    assert client.get(f"/api/v1/renders/{by_editor}", headers=editor).status_code == 404
    assert client.get(f"/api/v1/projects/{doomed['id']}", headers=owner).status_code == 404
    # The quota no longer counts the project nor its two finished renders.
    freed = before - usage(client, owner)
    assert freed >= 2 * RENDER_BYTES + len(doomed["name"]) + len(doomed["prompt"]), freed
    # Nobody else's files, nor the owner's other project or uploads, were touched.
    for render, whose in ((survivor, owner), (others, other), (editors_own, editor)):
        assert len(stored(client, render)) == len(RENDER_FILES)
        assert client.get(f"/api/v1/renders/{render}", headers=whose).status_code == 200
    assert (usage(client, other), usage(client, editor)) == (other_before, editor_before)
    assert client.get(logo["links"]["file"], follow_redirects=False).status_code in (200, 307)
    assert tombstones(client) == 0  # purged at once: no grace period by default


def test_deleting_a_render_removes_its_files_at_once(make_client: ClientFactory) -> None:
    client = make_client()
    headers = sign_up(client)
    project = new_project(client, headers)
    render, sibling = (
        finished_render(client, headers, project["id"]),
        finished_render(client, headers, project["id"]),
    )
    before = usage(client, headers)
    assert client.delete(f"/api/v1/renders/{render}", headers=headers).status_code == 204
    assert stored(client, render) == set() and len(stored(client, sibling)) == len(RENDER_FILES)
    assert before - usage(client, headers) > RENDER_BYTES  # its files and its snapshot
    assert tombstones(client) == 0


def test_a_grace_period_keeps_the_files_until_a_prune_after_it(
    make_store_client: Callable[..., TestClient],
) -> None:
    client = make_store_client(retention={"deleted_files_hours": 48})
    headers = sign_up(client)
    project = new_project(client, headers)
    in_project, alone = (
        finished_render(client, headers, project["id"]),
        finished_render(client, headers, project["id"]),
    )
    loose = finished_render(client, headers, new_project(client, headers)["id"])
    before = usage(client, headers)
    assert client.delete(f"/api/v1/renders/{loose}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/projects/{project['id']}", headers=headers).status_code == 204

    # For the user they are gone, and so is what they occupied...
    assert client.get(f"/api/v1/renders/{in_project}", headers=headers).status_code == 404
    assert usage(client, headers) < before - 3 * RENDER_BYTES
    # ...while the files wait out the grace period, through any prune.
    platform = platform_of(client)
    assert platform.prune().deleted.folders == 0
    assert all(stored(client, render) for render in (in_project, alone, loose))
    assert tombstones(client) == 3

    with platform.engine.begin() as conn:  # two days later, for the deletion of `loose`
        conn.execute(
            update(BlobTombstone)
            .where(BlobTombstone.prefix == render_blob_folder(loose))
            .values(purge_after=datetime.now(UTC) - timedelta(seconds=1))
        )
    pruned = platform.prune().deleted
    assert (pruned.folders, pruned.files, pruned.failed) == (1, len(RENDER_FILES), 0)
    assert stored(client, loose) == set() and stored(client, in_project) and stored(client, alone)

    with platform.engine.begin() as conn:  # and for the project's
        conn.execute(update(BlobTombstone).values(purge_after=datetime.now(UTC)))
    assert platform.prune().deleted.folders == 2
    assert stored(client, in_project) == stored(client, alone) == set()
    assert tombstones(client) == 0


def test_a_running_render_must_be_canceled_before_its_project_is_deleted(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    render = finished_render(client, headers, project["id"])
    running = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers).json()
    with platform_of(client).engine.begin() as conn:
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id == uuid.UUID(running["id"]))
            .values(state=JobState.RUNNING, worker_id="w1", started_at=datetime.now(UTC))
        )
    refused = client.delete(f"/api/v1/projects/{project['id']}", headers=headers)
    assert refused.status_code == 409 and running["id"] in refused.json()["detail"]
    # Nothing happened: the project, its renders and their files are all there.
    assert client.get(f"/api/v1/projects/{project['id']}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/renders/{render}", headers=headers).status_code == 200
    assert len(stored(client, render)) == len(RENDER_FILES) and tombstones(client) == 0


def test_files_the_store_failed_to_remove_are_removed_by_the_next_prune(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    render = finished_render(client, headers, project["id"])
    platform = platform_of(client)
    real = platform.blobs.delete_prefix

    def outage(prefix: str) -> int:
        raise StorageError("the store is down")

    monkeypatch.setattr(platform.blobs, "delete_prefix", outage)
    assert client.delete(f"/api/v1/projects/{project['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/renders/{render}", headers=headers).status_code == 404
    assert len(stored(client, render)) == len(RENDER_FILES) and tombstones(client) == 1
    assert platform.prune().deleted.failed == 1  # still down: kept for the next one

    monkeypatch.setattr(platform.blobs, "delete_prefix", real)
    pruned = platform.prune().deleted
    assert (pruned.folders, pruned.files, pruned.failed) == (1, len(RENDER_FILES), 0)
    assert stored(client, render) == set() and tombstones(client) == 0
