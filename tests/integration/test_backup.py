"""`reelforge backup` → wipe → `reelforge restore` brings back users, projects, renders and
their files, as their owner sees them: on SQLite + local files and on PostgreSQL + S3."""

from __future__ import annotations

import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from reelforge.api.app import create_app
from reelforge.db.migrate import upgrade
from reelforge.errors import InvalidInput
from reelforge.platform.backup import backup, restore
from reelforge.platform.services import Platform, prepare_data_dir
from reelforge.settings import Settings
from tests.support.seaweed import S3Endpoint

from .conftest import PG_SERVER

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
RENDER = {"resolution": "480p", "target_duration_s": 10, "music": {"enabled": False}}


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    common: dict[str, Any] = {
        "data_dir": tmp_path / "data", "cache_dir": tmp_path / "cache",
        "secret_key": "backup-test-" + "k" * 40,
    }  # fmt: skip
    if request.param == "sqlite+local":
        yield Settings(**common)
        return
    seaweed: S3Endpoint = request.getfixturevalue("seaweed")
    name = f"reelforge_backup_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    s3 = {
        "bucket": f"backup-{uuid.uuid4().hex[:8]}", "endpoint_url": seaweed.url,
        "region": seaweed.region, "access_key_id": seaweed.access_key_id,
        "secret_access_key": seaweed.secret_access_key,
    }  # fmt: skip
    try:
        yield Settings(**common, database_url=f"{PG_SERVER}/{name}", storage="s3", s3=s3)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def client_for(settings: Settings, workers: int = 0) -> TestClient:
    return TestClient(
        create_app(Platform(settings), workers=workers), base_url="https://testserver"
    )


def sign_in(client: TestClient, email: str) -> dict[str, str]:
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def video_bytes(client: TestClient, headers: dict[str, str], render_id: str) -> bytes:
    status = client.get(f"/api/v1/renders/{render_id}", headers=headers).json()
    reply = client.get(status["links"]["video"], headers=headers, follow_redirects=False)
    if reply.status_code in (302, 303, 307):  # S3: a signed URL of the object store
        reply = httpx.get(reply.headers["location"])
    assert reply.status_code == 200, reply.text
    return reply.content


def wipe(settings: Settings) -> None:
    """Everything gone: the database's tables and every stored file."""
    url = settings.db_url
    if make_url(url).get_backend_name() == "sqlite":
        Path(str(make_url(url).database)).unlink()
    else:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    blobs = Platform(settings).blobs
    for key in list(blobs.keys()):
        blobs.delete(key)
    assert list(blobs.keys()) == []


def test_backup_wipe_restore_brings_everything_back(settings: Settings, tmp_path: Path) -> None:
    prepare_data_dir(settings)
    upgrade(settings.db_url)
    email = f"keeper-{uuid.uuid4().hex[:6]}@example.org"
    with client_for(settings, workers=1) as client:
        created = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        headers = sign_in(client, email)
        project = client.post("/api/v1/projects", headers=headers, json={
            "name": "Keep me", "prompt": "Glaciers carve valleys. Ice moves slowly downhill.",
            "settings": RENDER,
        }).json()  # fmt: skip
        render_id = client.post(
            f"/api/v1/projects/{project['id']}/renders", headers=headers
        ).json()["id"]
        deadline = time.monotonic() + 180
        while (
            client.get(f"/api/v1/renders/{render_id}", headers=headers).json()["status"]
            != "succeeded"
        ):
            assert time.monotonic() < deadline, "the render did not finish"
            time.sleep(0.3)
        video = video_bytes(client, headers, render_id)

    archive = tmp_path / "backups" / "reelforge.tar"
    made = backup(Platform(settings), archive)
    assert made.blobs >= 5 and made.blob_bytes > len(video) and made.revision
    assert tarfile.is_tarfile(archive) and not list(archive.parent.glob(".backup-*"))

    wipe(settings)
    restored = restore(Platform(settings), archive)
    assert (restored.blobs, restored.database) == (made.blobs, made.database)

    with client_for(settings) as client:
        headers = sign_in(client, email)  # the account, its password hash
        projects = client.get("/api/v1/projects", headers=headers).json()["items"]
        assert [p["name"] for p in projects] == ["Keep me"]
        status = client.get(f"/api/v1/renders/{render_id}", headers=headers).json()
        assert status["status"] == "succeeded"
        assert video_bytes(client, headers, render_id) == video  # the file, byte for byte


def test_a_backup_of_one_kind_does_not_restore_into_another(tmp_path: Path) -> None:
    sqlite = Settings(data_dir=tmp_path / "a", secret_key="k" * 40)
    prepare_data_dir(sqlite)
    upgrade(sqlite.db_url)
    archive = backup(Platform(sqlite), tmp_path / "a.tar").path
    other = Settings(data_dir=tmp_path / "b", secret_key="k" * 40,
                     database_url=f"{PG_SERVER}/postgres")  # fmt: skip
    with pytest.raises(
        InvalidInput, match="holds a sqlite database; the configured one is postgresql"
    ):
        restore(Platform(other), archive)
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all")
    with pytest.raises(InvalidInput, match="is not a reelforge backup"):
        restore(Platform(sqlite), tmp_path / "junk.tar")
