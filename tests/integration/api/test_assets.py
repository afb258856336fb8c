"""The asset library over the API (SQLite and PostgreSQL): uploads judged by content, plan
limits, every refusal a problem+json that leaves nothing stored, search, and the rule
that a storyboard names only the caller's own assets, never a server path."""

from __future__ import annotations

import dataclasses
import io
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from reelforge.model.plans import PLAN_LIMITS, Plan
from tests.support.media import solid_clip, solid_image, tone

from .conftest import ClientFactory, new_project, sign_up


def upload(
    client: TestClient, headers: dict[str, str], path: Path, *, name: str | None = None,
    content_type: str = "application/octet-stream", **fields: str,
) -> Any:  # fmt: skip
    with path.open("rb") as file:
        files = {"file": (name or path.name, file, content_type)}
        return client.post("/api/v1/assets", headers=headers, files=files, data=fields)


def uploaded(client: TestClient, headers: dict[str, str], path: Path, **fields: str) -> Any:
    response = upload(client, headers, path, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def stored_files(data_dir: Path) -> list[Path]:
    """Everything in the blob store's asset folder and the upload scratch folder."""
    folders = [data_dir / "blobs" / "assets", data_dir / "uploads"]
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_an_image_is_stored_without_its_exif_with_a_thumbnail_and_metadata(
    client: TestClient, tmp_path: Path
) -> None:
    headers = sign_up(client)
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPSInfo: a latitude
    photo = solid_image(tmp_path / "holiday.jpg", (200, 30, 30), (80, 60), exif=exif)
    with Image.open(photo) as original:
        assert original.getexif()  # the test file does carry EXIF
    asset = uploaded(client, headers, photo, tags="Beach, summer ,beach")
    assert asset["kind"] == "image" and asset["content_type"] == "image/jpeg"
    assert (asset["width"], asset["height"], asset["codec"]) == (80, 60, "jpeg")
    assert asset["name"] == "holiday" and asset["tags"] == ["beach", "summer"]

    stored = client.get(asset["links"]["file"])  # a signed link: no header needed
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(stored.content)) as clean:
        assert not clean.getexif() and "exif" not in clean.info
        assert clean.getpixel((40, 30))[0] > 180  # type: ignore[index]
    thumbnail = client.get(asset["links"]["thumbnail"])
    assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\xff\xd8")
    assert client.get(f"/api/v1/assets/{asset['id']}/file").status_code == 401

    me = client.get("/api/v1/users/me", headers=headers).json()
    assert me["usage"]["storage_bytes"] >= asset["size_bytes"] > 0


def test_clips_and_songs_are_probed(client: TestClient, tmp_path: Path) -> None:
    headers = sign_up(client)
    clip = uploaded(client, headers, solid_clip(tmp_path / "wave.webm", (0, 0, 255), 1.5))
    assert clip["kind"] == "clip" and clip["content_type"] == "video/webm"
    assert clip["codec"] == "vp9" and clip["width"] == 64 and clip["duration_s"] == 1.5
    assert clip["links"]["thumbnail"]
    song = uploaded(client, headers, tone(tmp_path / "song.mp3", 2.0), name="Theme")
    assert song["kind"] == "audio" and song["content_type"] == "audio/mpeg"
    assert song["name"] == "Theme" and song["links"]["thumbnail"] is None
    assert song["duration_s"] == pytest.approx(2.0, abs=0.1)


def test_search_by_name_tag_and_kind_then_rename_retag_and_delete(
    client: TestClient, tmp_path: Path, data_dir: Path
) -> None:
    headers = sign_up(client)
    logo = uploaded(client, headers, solid_image(tmp_path / "logo.png", (0, 0, 0)), tags="brand")
    uploaded(client, headers, solid_image(tmp_path / "sky.png", (0, 0, 200)), tags="nature")
    uploaded(client, headers, tone(tmp_path / "brand-jingle.wav", 1.0))
    other = sign_up(client)
    uploaded(client, other, solid_image(tmp_path / "logo.png", (0, 0, 0)), tags="brand")

    def names(**query: str) -> list[str]:
        page = client.get("/api/v1/assets", params=query, headers=headers).json()
        return sorted(item["name"] for item in page["items"])

    assert names() == ["brand-jingle", "logo", "sky"]
    assert names(q="BRAND") == ["brand-jingle", "logo"]  # name or tag
    assert names(tag="brand") == ["logo"]
    assert names(tag="bran") == []  # whole tags only
    assert names(kind="audio") == ["brand-jingle"]

    changed = client.patch(
        f"/api/v1/assets/{logo['id']}", json={"name": "Logo v2", "tags": ["Brand", "dark"]},
        headers=headers,
    ).json()  # fmt: skip
    assert changed["name"] == "Logo v2" and changed["tags"] == ["brand", "dark"]
    assert client.get(f"/api/v1/assets/{logo['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/assets/{logo['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/assets/{logo['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/assets/{logo['id']}", headers=headers).status_code == 404
    assert not any(logo["id"] in str(p) for p in stored_files(data_dir))


def _executable(path: Path) -> Path:
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(200))
    return path


def _corrupt_png(path: Path) -> Path:
    solid_image(path, (10, 200, 10), (300, 200))
    data = path.read_bytes()
    path.write_bytes(data[:60] + bytes(len(data) - 80) + data[-20:])  # pixels zeroed
    return path


def _bomb_png(path: Path) -> Path:
    Image.new("1", (12_000, 12_000)).save(path)  # 144 megapixels in a few KB
    return path


@pytest.mark.parametrize(
    ("make", "status", "slug"),
    [
        (lambda d: _executable(d / "cat.png"), 415, "unsupported-media-type"),
        (lambda d: _corrupt_png(d / "broken.png"), 422, "invalid-input"),
        (lambda d: _bomb_png(d / "bomb.png"), 422, "invalid-input"),
        (lambda d: solid_clip(d / "long.mp4", (1, 2, 3), 3.0), 402, "plan-limit"),
        (lambda d: tone(d / "big.wav", 2.0), 413, "file-too-large"),
    ],
    ids=["renamed-executable", "corrupt-image", "bomb-png", "clip-too-long", "oversized"],
)
def test_refused_uploads_are_problems_and_leave_nothing_behind(
    make_client: ClientFactory, tmp_path: Path, data_dir: Path,
    monkeypatch: pytest.MonkeyPatch, make: Any, status: int, slug: str,
) -> None:  # fmt: skip
    free = dataclasses.replace(
        PLAN_LIMITS[Plan.FREE], max_upload_bytes=100_000, max_asset_duration_s=2.0
    )
    monkeypatch.setitem(PLAN_LIMITS, Plan.FREE, free)
    client = make_client()
    headers = sign_up(client)
    response = upload(client, headers, make(tmp_path), content_type="image/png")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:reelforge:problem:{slug}"
    assert response.json()["detail"]
    assert stored_files(data_dir) == []
    assert client.get("/api/v1/assets", headers=headers).json()["total"] == 0


def test_an_upload_over_the_storage_quota_is_refused(
    make_client: ClientFactory, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        PLAN_LIMITS, Plan.FREE, dataclasses.replace(PLAN_LIMITS[Plan.FREE], storage_bytes=5_000)
    )
    client = make_client()
    headers = sign_up(client)
    noise = tmp_path / "noise.png"
    Image.frombytes("RGB", (100, 100), os.urandom(30_000)).save(noise)  # ~30 KB
    response = upload(client, headers, noise)
    assert response.status_code == 413 and "storage-quota" in response.json()["type"]
    assert stored_files(data_dir) == []


def test_a_body_that_is_not_multipart_is_refused(client: TestClient) -> None:
    headers = sign_up(client)
    response = client.post("/api/v1/assets", headers=headers, json={"file": "x"})
    assert response.status_code == 415
    assert client.post("/api/v1/assets", files={"file": ("a", b"a")}).status_code == 401


@pytest.mark.parametrize(
    "settings",
    [
        {"music": {"file": "/etc/passwd"}},
        {"music": {"file": "../../reelforge.db"}},
        {"watermark": {"file": "/etc/hostname"}},
    ],
)
def test_server_paths_in_settings_are_refused(client: TestClient, settings: dict[str, Any]) -> None:
    headers = sign_up(client)
    response = client.post(
        "/api/v1/projects", json={"name": "x", "prompt": "Hi there.", "settings": settings},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert "server file paths" in response.json()["detail"]


def _board(visual: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {
        "settings": {"target_duration_s": 10, **settings},
        "scenes": [{"narration": "The tide comes in.", "visual": visual}],
    }


def test_storyboards_name_only_the_callers_own_assets_of_a_fitting_kind(
    client: TestClient, tmp_path: Path
) -> None:
    headers, stranger = sign_up(client), sign_up(client)
    project = new_project(client, headers)
    url = f"/api/v1/projects/{project['id']}/storyboard"
    mine = uploaded(client, headers, solid_image(tmp_path / "mine.png", (1, 1, 1)))
    song = uploaded(client, headers, tone(tmp_path / "song.wav", 1.0))
    theirs = uploaded(client, stranger, solid_image(tmp_path / "theirs.png", (2, 2, 2)))

    refused = [
        _board({"kind": "file", "path": "/etc/passwd"}),
        _board({"kind": "file", "path": "../../../etc/passwd"}),
        _board({"kind": "file", "asset_id": theirs["id"]}),
        _board({"kind": "file", "asset_id": str(uuid.uuid4())}),
        _board({"kind": "file", "asset_id": song["id"]}),  # a song is no visual
        _board({"kind": "file", "asset_id": mine["id"]}, music={"asset_id": mine["id"]}),
        _board({"kind": "generated"}, watermark={"asset_id": theirs["id"]}),
    ]
    for board in refused:
        response = client.put(url, json=board, headers=headers)
        assert response.status_code == 422, (board, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    accepted = _board(
        {"kind": "file", "asset_id": mine["id"]}, music={"asset_id": song["id"]},
        watermark={"asset_id": mine["id"], "position": "top-left"},
    )  # fmt: skip
    assert client.put(url, json=accepted, headers=headers).status_code == 200

    # The asset is in use: deleting it needs confirmation.
    conflict = client.delete(f"/api/v1/assets/{song['id']}", headers=headers)
    assert conflict.status_code == 409 and "Tides" in conflict.json()["detail"]
    forced = client.delete(f"/api/v1/assets/{song['id']}?force=true", headers=headers)
    assert forced.status_code == 204
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    assert render.status_code == 422 and song["id"] in render.json()["detail"]


def _multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, str]:
    boundary = "reelforge-test-boundary"
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_chunked_upload_stops_at_the_plans_size_and_leaves_nothing(
    make_client: ClientFactory, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Content-Length to refuse up front: the size is counted as the body streams."""
    free = dataclasses.replace(PLAN_LIMITS[Plan.FREE], max_upload_bytes=100_000)
    monkeypatch.setitem(PLAN_LIMITS, Plan.FREE, free)
    client = make_client()
    headers = sign_up(client)
    body, content_type = _multipart(("file", "big.wav", bytes(300_000)))

    def chunks() -> Any:
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    response = client.post(
        "/api/v1/assets", content=chunks(), headers=headers | {"Content-Type": content_type}
    )
    assert response.status_code == 413 and "file-too-large" in response.json()["type"]
    assert stored_files(data_dir) == []


@pytest.mark.parametrize(
    ("parts", "detail"),
    [
        ((("name", None, b"no file"),), "no `file` field"),
        ((("file", "a.wav", b"a"), ("file", "b.wav", b"b")), "one file per upload"),
        ((("file", "a.png", b"x"), ("tags", None, b"," * 5000)), "at most 4096 bytes"),
        ((("file", "a.png", b"x"), ("tags", None, b"a" * 41)), "at most 40 characters"),
    ],
    ids=["no-file", "two-files", "huge-field", "long-tag"],
)
def test_malformed_forms_are_422(
    client: TestClient, data_dir: Path, parts: Any, detail: str
) -> None:
    headers = sign_up(client)
    body, content_type = _multipart(*parts)
    response = client.post(
        "/api/v1/assets", content=body, headers=headers | {"Content-Type": content_type}
    )
    assert response.status_code == 422 and detail in response.json()["detail"], response.text
    assert stored_files(data_dir) == []


def test_uploads_may_exceed_the_api_body_limit_other_routes_may_not(
    client: TestClient, tmp_path: Path
) -> None:
    headers = sign_up(client)
    song = tone(tmp_path / "long.wav", 15.0)  # 1.3 MB: over the 1 MiB JSON body limit
    assert song.stat().st_size > 1_048_576
    assert uploaded(client, headers, song)["size_bytes"] == song.stat().st_size
    big = {"name": "x", "prompt": "y" * 1_100_000}
    response = client.post("/api/v1/projects", json=big, headers=headers)
    assert response.status_code == 413 and "payload-too-large" in response.json()["type"]
