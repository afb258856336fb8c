"""What the API needs from a blob store, and the rules both backends share.

Renders, thumbnails, subtitles and uploads are stored under *keys*: relative
'/'-separated paths such as ``renders/42/video.mp4``. Keys are validated in
one place (`validate_key`) so a key that works on the local disk also works on
S3 and cannot climb out of the store with '..'.

Keep keys and folders apart: the local store cannot hold both ``renders/42``
and ``renders/42/video.mp4`` (a file is not a folder; StorageError), and
SeaweedFS, though it accepts the pair, miscounts it when listing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from reelforge.errors import InvalidInput

MAX_KEY_LENGTH = 512
CHUNK_SIZE_BYTES = 256 * 1024
"""Size of the pieces `open_range` yields: big enough for throughput, small for memory."""
MAX_SIGNED_URL_EXPIRY_S = 7 * 24 * 3600
"""SigV4 presigned URLs cannot live longer than a week."""

# A segment may not start with '.': that rules out '.' and '..' and leaves every
# dot-name to the stores themselves (temporary files, the local content-type sidecars).
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9._/-]")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size_bytes: int
    content_type: str
    etag: str
    """Opaque and changes when the bytes change: the S3 ETag, or inode+mtime+size locally.
    Good enough for an HTTP ETag / If-None-Match."""
    modified_at: datetime
    """Timezone-aware (UTC)."""


class BlobStore(Protocol):
    """Bytes under keys. Every method raises InvalidInput for a bad key,
    NotFound for a missing one and StorageError when the store itself fails."""

    def put_file(self, key: str, path: Path, content_type: str) -> BlobInfo:
        """Store a file from disk; big renders stream without being read into memory.

        The blob appears whole or not at all: readers never see a partial write.
        """

    def put_bytes(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store small payloads (thumbnails, subtitles) without a temporary file."""

    def stat(self, key: str) -> BlobInfo:
        """Size, type and version: what an HTTP response needs before its body."""

    def read_bytes(self, key: str) -> bytes:
        """The whole blob; only for small ones."""

    def open_range(self, key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        """Bytes `start..end_inclusive` in chunks, to answer an HTTP Range request.

        The blob is opened before this returns, so NotFound is raised here, before a
        response starts. `end_inclusive` past the end is clamped (as in HTTP); a `start`
        at or past the end raises InvalidInput (HTTP 416).
        """

    def delete(self, key: str) -> None:
        """Remove a blob; removing a missing one is not an error (retries are safe)."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob in the folder `prefix` and return how many were removed.

        `prefix` names a folder, not a string prefix: ``renders/1`` removes
        ``renders/1/a.mp4`` but never ``renders/12/a.mp4``.
        """

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key in the folder `prefix` ("" for the whole store), in no set order:
        what a backup copies."""

    def local_path(self, key: str) -> Path | None:
        """The blob's real file, so a web server can send it with sendfile and Range
        support; None when the blob is remote (then use `signed_url` or `open_range`)."""

    def signed_url(
        self,
        key: str,
        *,
        expires_s: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """A URL the client can GET directly, offloading the transfer from the API.

        `filename` makes it a download (Content-Disposition: attachment). None
        means the store cannot sign URLs and the API must stream the blob itself.
        The blob's existence is not checked: signing happens offline.
        """


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative key, else raise InvalidInput saying why."""
    if not key:
        raise InvalidInput("storage key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"storage key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        )
    if key.startswith("/"):
        raise InvalidInput(f"storage key {key!r} must be relative (no leading '/')")
    bad = sorted(set(_BAD_CHARS.findall(key)))
    if bad:
        raise InvalidInput(
            f"storage key {key!r} has characters outside [A-Za-z0-9._-/]: {''.join(bad)!r}"
        )
    for segment in key.split("/"):
        if not segment:
            raise InvalidInput(f"storage key {key!r} has an empty segment ('//' or a trailing '/')")
        if not _SEGMENT.fullmatch(segment):
            raise InvalidInput(f"storage key {key!r}: segment {segment!r} may not start with '.'")
    return key


def validate_prefix(prefix: str) -> str:
    """A folder prefix for `delete_prefix`: a valid key, with one trailing '/' allowed."""
    return validate_key(prefix.removesuffix("/"))


def check_range(start: int, end_inclusive: int, size_bytes: int | None = None) -> int:
    """Validate a byte range and return its end, clamped to `size_bytes` when known."""
    if start < 0 or end_inclusive < start:
        raise InvalidInput(f"invalid byte range {start}-{end_inclusive}")
    if size_bytes is None:
        return end_inclusive
    if start >= size_bytes:
        raise InvalidInput(f"byte range starts at {start}, past the end ({size_bytes} bytes)")
    return min(end_inclusive, size_bytes - 1)


def check_expiry(expires_s: int) -> int:
    if not 1 <= expires_s <= MAX_SIGNED_URL_EXPIRY_S:
        raise InvalidInput(
            f"signed URL expiry must be 1..{MAX_SIGNED_URL_EXPIRY_S} s, not {expires_s}"
        )
    return expires_s


def check_source(path: Path) -> Path:
    """Blame the caller, not the store, for a source file that is not there."""
    if not path.is_file():
        raise InvalidInput(f"cannot store {path}: not a readable file")
    return path


def content_disposition(filename: str) -> str:
    """``attachment`` header for `filename`, safe to put in a header and for any browser.

    Quotes, backslashes and control characters are dropped from the plain
    ``filename=`` fallback; a non-ASCII name is also sent as RFC 5987 ``filename*``.
    """
    name = filename.replace("/", "_").replace("\\", "_") or "download"
    fallback = "".join(c if " " <= c < "\x7f" and c != '"' else "_" for c in name)
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header
