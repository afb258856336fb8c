from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest

from reelforge.errors import InvalidInput, NotFound, StorageError
from reelforge.storage import (
    MAX_KEY_LENGTH,
    BlobStore,
    LocalBlobStore,
    content_disposition,
    validate_key,
)
from reelforge.storage.local import _write_atomic


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def all_files(root: Path) -> list[str]:
    """Every file under root, hidden ones included, as sorted relative paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- keys --------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["a", "renders/42/video.mp4", "u-1/x_y.Z.srt", "a" * MAX_KEY_LENGTH, "thumbs/0.jpg"],
)
def test_valid_keys_pass(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("a" * (MAX_KEY_LENGTH + 1), "limit is 512"),
        ("/etc/passwd", "relative"),
        ("../outside", "may not start with '.'"),
        ("renders/../../etc", "may not start with '.'"),
        ("renders/./x", "may not start with '.'"),
        ("renders/.hidden", "may not start with '.'"),
        ("renders//x", "empty segment"),
        ("renders/", "empty segment"),
        ("renders\\x", "characters outside"),
        ("spaced name", "characters outside"),
        ("vidéo.mp4", "characters outside"),
        ("a\x00b", "characters outside"),
    ],
)
def test_invalid_keys_say_why(key: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(reason)):
        validate_key(key)


def test_every_method_validates_the_key(store: LocalBlobStore, tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"x")
    calls: list[Callable[[], object]] = [
        lambda: store.put_file("../x", source, "text/plain"),
        lambda: store.put_bytes("../x", b"x", "text/plain"),
        lambda: store.stat("../x"),
        lambda: store.read_bytes("../x"),
        lambda: store.open_range("../x", 0, 1),
        lambda: store.delete("../x"),
        lambda: store.delete_prefix("../x"),
        lambda: store.local_path("../x"),
        lambda: store.signed_url("../x", expires_s=60),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()
    assert not (tmp_path / "x").exists()


def test_a_symlink_inside_the_root_cannot_lead_out(store: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (store.root / "link").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidInput, match="outside the store"):
        store.read_bytes("link/secret.txt")
    with pytest.raises(InvalidInput, match="outside the store"):
        store.put_bytes("link/new.txt", b"x", "text/plain")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


# -- writing -----------------------------------------------------------------


def test_put_bytes_then_stat_and_read(store: LocalBlobStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    info = store.put_bytes("subs/1/en.vtt", b"WEBVTT\n\n", "text/vtt; charset=utf-8")

    assert info.key == "subs/1/en.vtt"
    assert info.size_bytes == 8
    assert info.content_type == "text/vtt; charset=utf-8"
    assert before <= info.modified_at <= datetime.now(UTC) + timedelta(seconds=2)
    assert store.stat("subs/1/en.vtt") == info
    assert store.read_bytes("subs/1/en.vtt") == b"WEBVTT\n\n"
    assert store.local_path("subs/1/en.vtt") == store.root / "subs/1/en.vtt"


def test_content_type_is_what_was_given_not_guessed(store: LocalBlobStore) -> None:
    store.put_bytes("uploads/7/raw", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    store.put_bytes("uploads/7/odd.jpg", b"not really", "application/x-custom")

    assert store.stat("uploads/7/raw").content_type == "video/mp4"
    assert store.stat("uploads/7/odd.jpg").content_type == "application/x-custom"


def test_a_file_without_sidecar_gets_a_guessed_type(store: LocalBlobStore) -> None:
    (store.root / "by-hand").mkdir()
    (store.root / "by-hand" / "clip.mp4").write_bytes(b"x")
    (store.root / "by-hand" / "blob").write_bytes(b"x")

    assert store.stat("by-hand/clip.mp4").content_type == "video/mp4"
    assert store.stat("by-hand/blob").content_type == "application/octet-stream"


def test_put_file_copies_and_overwrite_changes_the_etag(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "render.mp4"
    source.write_bytes(os.urandom(300_000))
    first = store.put_file("renders/1/video.mp4", source, "video/mp4")
    assert store.read_bytes("renders/1/video.mp4") == source.read_bytes()
    assert source.exists()  # copied, not moved

    second = store.put_bytes("renders/1/video.mp4", b"shorter", "video/mp4")
    assert second.size_bytes == 7
    assert second.etag != first.etag
    assert store.read_bytes("renders/1/video.mp4") == b"shorter"


def test_etag_changes_even_for_same_size_writes_in_one_clock_tick(store: LocalBlobStore) -> None:
    etags = {store.put_bytes("t.jpg", bytes([i]) * 100, "image/jpeg").etag for i in range(20)}
    assert len(etags) == 20


def test_put_file_of_a_missing_source_blames_the_caller(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="not a readable file"):
        store.put_file("a.mp4", tmp_path / "nope.mp4", "video/mp4")


def test_a_failed_write_leaves_the_old_file_and_no_litter(tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    target.write_bytes(b"old")

    def write_half_then_fail(out: BinaryIO) -> None:
        out.write(b"new and half")
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        _write_atomic(target, write_half_then_fail)

    assert target.read_bytes() == b"old"
    assert all_files(tmp_path) == ["video.mp4"]


def test_readers_never_see_a_partial_write(store: LocalBlobStore) -> None:
    old, new = b"a" * 2_000_000, b"b" * 3_000_000
    store.put_bytes("big.bin", old, "application/octet-stream")
    seen: set[bytes] = set()
    stop = threading.Event()

    def read_loop() -> None:
        while not stop.is_set():
            seen.add(store.read_bytes("big.bin"))

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for _ in range(5):
            store.put_bytes("big.bin", new, "application/octet-stream")
            store.put_bytes("big.bin", old, "application/octet-stream")
    finally:
        stop.set()
        reader.join()
    assert seen <= {old, new}
    assert all_files(store.root) == [".big.bin.type", "big.bin"]


def test_a_key_cannot_also_be_a_folder(store: LocalBlobStore) -> None:
    store.put_bytes("renders/1", b"x", "text/plain")
    with pytest.raises(StorageError):
        store.put_bytes("renders/1/video.mp4", b"x", "video/mp4")
    store.put_bytes("renders/2/video.mp4", b"x", "video/mp4")
    with pytest.raises(StorageError):
        store.put_bytes("renders/2", b"x", "text/plain")
    with pytest.raises(NotFound):
        store.stat("renders/2")


# -- reading -----------------------------------------------------------------


def test_missing_blobs_raise_not_found(store: LocalBlobStore) -> None:
    store.put_bytes("a/file", b"x", "text/plain")
    for key in ["nope", "a/nope", "a/file/below"]:
        with pytest.raises(NotFound):
            store.stat(key)
        with pytest.raises(NotFound):
            store.read_bytes(key)
        with pytest.raises(NotFound):
            store.open_range(key, 0, 0)
        with pytest.raises(NotFound):
            store.local_path(key)


def test_open_range_streams_exactly_the_requested_bytes(store: LocalBlobStore) -> None:
    data = os.urandom(1_000_000)  # several chunks
    store.put_bytes("v.mp4", data, "video/mp4")

    for start, end in [(0, 0), (0, 99), (100, 199), (262_143, 262_145), (10, 999_999)]:
        chunks = list(store.open_range("v.mp4", start, end))
        assert b"".join(chunks) == data[start : end + 1]
        assert all(len(c) <= 256 * 1024 for c in chunks)
    # HTTP semantics: the end is clamped, a start past the end is unsatisfiable.
    assert b"".join(store.open_range("v.mp4", 999_990, 5_000_000)) == data[999_990:]
    for start, end in [(1_000_000, 1_000_001), (-1, 5), (5, 4)]:
        with pytest.raises(InvalidInput):
            store.open_range("v.mp4", start, end)


def test_open_range_keeps_streaming_the_old_bytes_across_a_replace(
    store: LocalBlobStore,
) -> None:
    store.put_bytes("v.mp4", b"a" * 600_000, "video/mp4")
    stream = store.open_range("v.mp4", 0, 599_999)
    first = next(stream)
    store.put_bytes("v.mp4", b"b" * 10, "video/mp4")
    assert first + b"".join(stream) == b"a" * 600_000


def test_signed_url_is_none_locally(store: LocalBlobStore) -> None:
    store.put_bytes("a.mp4", b"x", "video/mp4")
    assert store.signed_url("a.mp4", expires_s=60, filename="a.mp4") is None
    with pytest.raises(InvalidInput):
        store.signed_url("a.mp4", expires_s=0)


# -- deleting ----------------------------------------------------------------


def test_delete_is_idempotent_and_prunes_empty_folders(store: LocalBlobStore) -> None:
    store.put_bytes("renders/1/video.mp4", b"x", "video/mp4")
    store.put_bytes("renders/2/video.mp4", b"x", "video/mp4")

    store.delete("renders/1/video.mp4")
    store.delete("renders/1/video.mp4")
    store.delete("never/was")

    with pytest.raises(NotFound):
        store.stat("renders/1/video.mp4")
    assert not (store.root / "renders/1").exists()
    assert all_files(store.root) == ["renders/2/.video.mp4.type", "renders/2/video.mp4"]


def test_delete_prefix_removes_a_folder_only(store: LocalBlobStore) -> None:
    for key in ["r/1/video.mp4", "r/1/thumbs/0.jpg", "r/1/thumbs/1.jpg", "r/12/video.mp4", "r/1x"]:
        store.put_bytes(key, b"x", "application/octet-stream")

    assert store.delete_prefix("r/1") == 3
    assert store.delete_prefix("r/1/") == 0
    assert store.delete_prefix("nothing/here") == 0
    assert store.delete_prefix("r/1x") == 0  # a blob, not a folder
    assert all_files(store.root) == [
        "r/.1x.type",
        "r/12/.video.mp4.type",
        "r/12/video.mp4",
        "r/1x",
    ]
    with pytest.raises(InvalidInput):
        store.delete_prefix("")
    with pytest.raises(InvalidInput):
        store.delete_prefix("/")


# -- shared helpers ----------------------------------------------------------


def test_local_store_satisfies_the_protocol(store: LocalBlobStore) -> None:
    typed: BlobStore = store  # checked by mypy; the contract suite checks behaviour
    assert typed is store


@pytest.mark.parametrize(
    ("filename", "plain", "encoded"),
    [
        ("video.mp4", "video.mp4", None),
        ('my "best".mp4', "my _best_.mp4", "my%20%22best%22.mp4"),
        ("a\r\nSet-Cookie: x", "a__Set-Cookie: x", "a%0D%0ASet-Cookie%3A%20x"),
        ("vidéo.mp4", "vid_o.mp4", "vid%C3%A9o.mp4"),
        ("../../x.mp4", ".._.._x.mp4", None),
        ("", "download", None),
    ],
)
def test_content_disposition_is_header_safe(filename: str, plain: str, encoded: str | None) -> None:
    expected = f'attachment; filename="{plain}"'
    if encoded:
        expected += f"; filename*=UTF-8''{encoded}"
    assert content_disposition(filename) == expected
