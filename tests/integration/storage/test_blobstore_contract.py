"""One behaviour, two backends: the local disk and S3 on a real SeaweedFS server.

Every S3 test gets its own key prefix in one shared bucket, so tests never see
each other's blobs and the server starts once per session.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from reelforge.errors import InvalidInput, NotFound, StorageError
from reelforge.storage import BlobStore, LocalBlobStore, S3BlobStore
from reelforge.storage.s3 import DEFAULT_MULTIPART_THRESHOLD_BYTES
from tests.support.seaweed import S3Endpoint

BUCKET = "reelforge-test"
MiB = 1024 * 1024


def make_s3(
    endpoint: S3Endpoint,
    *,
    prefix: str = "",
    secret_access_key: str | None = None,
    create_bucket: bool = False,
    multipart_threshold_bytes: int = DEFAULT_MULTIPART_THRESHOLD_BYTES,
) -> S3BlobStore:
    return S3BlobStore(
        BUCKET,
        endpoint_url=endpoint.url,
        region=endpoint.region,
        access_key_id=endpoint.access_key_id,
        secret_access_key=secret_access_key or endpoint.secret_access_key,
        prefix=prefix,
        create_bucket=create_bucket,
        multipart_threshold_bytes=multipart_threshold_bytes,
    )


@pytest.fixture(scope="session")
def bucket(seaweed: S3Endpoint) -> str:
    make_s3(seaweed, create_bucket=True)
    make_s3(seaweed, create_bucket=True)  # a second time is a no-op, not an error
    return BUCKET


@pytest.fixture
def s3_store(request: pytest.FixtureRequest) -> S3BlobStore:
    request.getfixturevalue("bucket")
    seaweed: S3Endpoint = request.getfixturevalue("seaweed")
    return make_s3(seaweed, prefix=f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    s3: S3BlobStore = request.getfixturevalue("s3_store")
    return s3


@pytest.fixture(scope="module")
def render_bytes() -> bytes:
    return os.urandom(3 * MiB + 12_345)  # ~3 MB, not a multiple of any chunk size


def test_round_trip_of_a_render_file(store: BlobStore, tmp_path: Path, render_bytes: bytes) -> None:
    source = tmp_path / "video.mp4"
    source.write_bytes(render_bytes)
    before = datetime.now(UTC) - timedelta(seconds=5)

    info = store.put_file("renders/7/video.mp4", source, "video/mp4")

    assert info.key == "renders/7/video.mp4"
    assert info.size_bytes == len(render_bytes)
    assert info.content_type == "video/mp4"
    assert info.etag
    assert before <= info.modified_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert store.stat("renders/7/video.mp4") == info
    assert store.read_bytes("renders/7/video.mp4") == render_bytes


def test_put_bytes_keeps_the_content_type_given(store: BlobStore) -> None:
    store.put_bytes(
        "subs/7/en.srt", b"1\n00:00:00,000 --> 00:00:01,000\nHi\n", "application/x-subrip"
    )
    store.put_bytes("uploads/7/raw", b"\xff\xd8\xff\xe0", "image/jpeg")

    assert store.stat("subs/7/en.srt").content_type == "application/x-subrip"
    assert store.stat("subs/7/en.srt").size_bytes == 35
    assert store.stat("uploads/7/raw").content_type == "image/jpeg"


def test_overwrite_replaces_bytes_and_changes_etag(store: BlobStore) -> None:
    first = store.put_bytes("thumbs/7.jpg", b"first version", "image/jpeg")
    second = store.put_bytes("thumbs/7.jpg", b"second, longer version", "image/jpeg")

    assert second.etag != first.etag
    assert second.size_bytes == 22
    assert store.read_bytes("thumbs/7.jpg") == b"second, longer version"


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 99), (0, 0), (1_500_000, 1_500_099), (1_000_000, 2_999_999), (-100, -1)],
    ids=["start", "first-byte", "middle", "middle-multi-chunk", "end"],
)
def test_range_reads(store: BlobStore, render_bytes: bytes, start: int, end: int) -> None:
    store.put_bytes("renders/7/video.mp4", render_bytes, "video/mp4")
    size = len(render_bytes)
    if start < 0:  # relative to the end
        start, end = size + start, size + end

    chunks = list(store.open_range("renders/7/video.mp4", start, end))

    assert b"".join(chunks) == render_bytes[start : end + 1]
    assert all(chunks)


def test_range_end_is_clamped_and_a_start_past_the_end_is_refused(store: BlobStore) -> None:
    store.put_bytes("a.bin", bytes(range(200)), "application/octet-stream")

    assert b"".join(store.open_range("a.bin", 150, 10_000)) == bytes(range(150, 200))
    with pytest.raises(InvalidInput):
        store.open_range("a.bin", 200, 300)
    with pytest.raises(InvalidInput):
        store.open_range("a.bin", 10, 5)


def test_missing_blobs_raise_not_found(store: BlobStore) -> None:
    store.put_bytes("renders/7/video.mp4", b"x", "video/mp4")
    for key in ["renders/7/nope.mp4", "never/was/here"]:
        with pytest.raises(NotFound):
            store.stat(key)
        with pytest.raises(NotFound):
            store.read_bytes(key)
        with pytest.raises(NotFound):
            store.open_range(key, 0, 10)  # raised at once, before any byte is streamed


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.put_bytes("renders/7/video.mp4", b"x", "video/mp4")
    store.put_bytes("renders/7/thumb.jpg", b"y", "image/jpeg")

    store.delete("renders/7/video.mp4")
    store.delete("renders/7/video.mp4")
    store.delete("never/was/here")

    with pytest.raises(NotFound):
        store.stat("renders/7/video.mp4")
    assert store.read_bytes("renders/7/thumb.jpg") == b"y"


def test_delete_prefix_removes_one_folder(store: BlobStore) -> None:
    keys = ["r/1/video.mp4", "r/1/thumbs/0.jpg", "r/1/thumbs/1.jpg", "r/12/video.mp4", "r/1x"]
    for key in keys:
        store.put_bytes(key, key.encode(), "application/octet-stream")

    assert store.delete_prefix("r/1") == 3
    assert store.delete_prefix("r/1/") == 0

    for key in keys[:3]:
        with pytest.raises(NotFound):
            store.stat(key)
    assert store.read_bytes("r/12/video.mp4") == b"r/12/video.mp4"
    assert store.read_bytes("r/1x") == b"r/1x"


def test_keys_lists_a_folder_or_everything(store: BlobStore) -> None:
    keys = ["r/1/video.mp4", "r/1/thumbs/0.jpg", "r/12/video.mp4", "a.txt"]
    for key in keys:
        store.put_bytes(key, key.encode(), "text/plain")
    store.delete("r/12/video.mp4")  # gone from the listing too

    assert sorted(store.keys("r/1")) == ["r/1/thumbs/0.jpg", "r/1/video.mp4"]
    assert sorted(store.keys()) == ["a.txt", "r/1/thumbs/0.jpg", "r/1/video.mp4"]
    assert list(store.keys("nothing/here")) == []


def test_bad_keys_are_refused_before_touching_the_store(store: BlobStore) -> None:
    for key in ["../escape", "/abs", "a//b", "a/.hidden", "a b"]:
        with pytest.raises(InvalidInput):
            store.put_bytes(key, b"x", "text/plain")
        with pytest.raises(InvalidInput):
            store.stat(key)
    with pytest.raises(InvalidInput):
        store.delete_prefix("")


def test_local_path_is_the_file_or_none(store: BlobStore) -> None:
    store.put_bytes("renders/7/video.mp4", b"bytes", "video/mp4")

    path = store.local_path("renders/7/video.mp4")

    if isinstance(store, LocalBlobStore):
        assert path is not None
        assert path.read_bytes() == b"bytes"
        assert store.signed_url("renders/7/video.mp4", expires_s=60) is None
    else:
        assert path is None


# -- S3 only: what goes over the wire ------------------------------------------


def test_big_files_go_up_in_parts(seaweed: S3Endpoint, bucket: str, tmp_path: Path) -> None:
    store = make_s3(seaweed, prefix=f"t-{uuid.uuid4().hex[:12]}", multipart_threshold_bytes=5 * MiB)
    data = os.urandom(11 * MiB)
    source = tmp_path / "big.mp4"
    source.write_bytes(data)

    info = store.put_file("renders/big.mp4", source, "video/mp4")

    assert info.etag.endswith("-3")  # S3's ETag for a multipart upload: md5-of-md5s "-" parts
    assert info.size_bytes == len(data)
    assert store.read_bytes("renders/big.mp4") == data


def test_presigned_url_serves_ranges_and_a_download_name(
    s3_store: S3BlobStore, render_bytes: bytes
) -> None:
    s3_store.put_bytes("renders/7/video.mp4", render_bytes, "video/mp4")
    url = s3_store.signed_url("renders/7/video.mp4", expires_s=300, filename='My "cat" vidéo.mp4')
    assert url is not None

    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == render_bytes
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-disposition"] == (
        'attachment; filename="My _cat_ vid_o.mp4"; '
        "filename*=UTF-8''My%20%22cat%22%20vid%C3%A9o.mp4"
    )

    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == render_bytes[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(render_bytes)}"


def test_presigned_url_can_override_the_content_type(s3_store: S3BlobStore) -> None:
    s3_store.put_bytes("subs/7/en.vtt", b"WEBVTT\n", "text/vtt")
    url = s3_store.signed_url("subs/7/en.vtt", expires_s=60, content_type="text/plain")
    assert url is not None

    response = httpx.get(url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    assert "content-disposition" not in response.headers


def _with_param(url: str, name: str, value: str | None = None) -> str:
    """`url` with one query parameter changed (None: unchanged, just re-encoded)."""
    parts = urlsplit(url)
    query = [(k, v if value is None or k != name else value) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def test_tampered_and_unsigned_urls_are_refused(s3_store: S3BlobStore) -> None:
    s3_store.put_bytes("renders/7/video.mp4", b"secret render", "video/mp4")
    url = s3_store.signed_url("renders/7/video.mp4", expires_s=300, filename="a.mp4")
    assert url is not None
    # Our URL surgery alone must not break the signature, or the checks below prove nothing.
    assert httpx.get(_with_param(url, "X-Amz-Signature")).content == b"secret render"

    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    forged = signature[:-4] + ("0000" if not signature.endswith("0000") else "1111")
    refused = {
        "forged signature": _with_param(url, "X-Amz-Signature", forged),
        "longer expiry": _with_param(url, "X-Amz-Expires", "604800"),
        "other filename": _with_param(
            url, "response-content-disposition", 'attachment; filename="evil.exe"'
        ),
        "other key": url.replace("renders/7/video.mp4", "renders/7/other.mp4"),
        "no signature": urlunsplit(urlsplit(url)._replace(query="")),
    }
    for what, bad in refused.items():
        response = httpx.get(bad)
        assert response.status_code == 403, what
        assert b"secret render" not in response.content


def test_expired_urls_are_refused(s3_store: S3BlobStore) -> None:
    s3_store.put_bytes("renders/7/video.mp4", b"secret render", "video/mp4")
    url = s3_store.signed_url("renders/7/video.mp4", expires_s=2)
    assert url is not None
    assert httpx.get(url).status_code == 200  # X-Amz-Date is whole seconds: >= 1 s left

    signed_at = datetime.strptime(
        dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"], "%Y%m%dT%H%M%SZ"
    ).replace(tzinfo=UTC)
    time.sleep(max(0.0, (signed_at + timedelta(seconds=3.1) - datetime.now(UTC)).total_seconds()))

    expired = httpx.get(url)
    assert expired.status_code == 403
    assert b"expired" in expired.content


def test_prefix_keeps_keys_inside_a_folder_of_the_bucket(seaweed: S3Endpoint, bucket: str) -> None:
    folder = f"t-{uuid.uuid4().hex[:12]}"
    tenant = make_s3(seaweed, prefix=f"{folder}/tenant-a/")
    whole_bucket = make_s3(seaweed)

    tenant.put_bytes("renders/1.mp4", b"x", "video/mp4")

    assert whole_bucket.read_bytes(f"{folder}/tenant-a/renders/1.mp4") == b"x"
    assert whole_bucket.delete_prefix(folder) == 1
    with pytest.raises(NotFound):
        tenant.stat("renders/1.mp4")


def test_server_failures_become_storage_errors(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    wrong_secret = make_s3(seaweed, secret_access_key="not-the-secret")
    with pytest.raises(StorageError, match=r"SignatureDoesNotMatch|AccessDenied"):
        wrong_secret.read_bytes("anything")
    source = tmp_path / "a.txt"
    source.write_bytes(b"x")
    with pytest.raises(StorageError, match="cannot upload"):  # boto3's S3UploadFailedError
        wrong_secret.put_file("a.txt", source, "text/plain")

    no_bucket = S3BlobStore(
        "no-such-bucket-here",
        endpoint_url=seaweed.url,
        access_key_id=seaweed.access_key_id,
        secret_access_key=seaweed.secret_access_key,
    )
    with pytest.raises(StorageError, match="NoSuchBucket") as caught:
        no_bucket.read_bytes("a.txt")
    assert not isinstance(caught.value, NotFound)  # a missing bucket is misconfiguration
