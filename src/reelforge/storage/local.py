"""Blob store on the local disk: the default for a single-machine install.

Each blob is a plain file at ``root/<key>``, so a web server can send it with
sendfile and Range support (`local_path`). Writes go to a temporary file in the
same directory and are published with os.replace, which is atomic: a reader
sees the old bytes or the new ones, never half a render.

The content type lives in a sidecar, ``.<name>.type`` next to the blob, because
keys for uploads need not have an extension and guessing from the name would
make `stat` disagree with S3, which stores what `put_*` was given. Keys cannot
start a segment with '.', so sidecars and temporary files never clash with
blobs. The sidecar is written after the blob; if it is missing (a crash in
between, a file copied in by hand) the type is guessed from the extension.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from reelforge.errors import InvalidInput, NotFound, StorageError
from reelforge.storage.base import (
    CHUNK_SIZE_BYTES,
    BlobInfo,
    check_expiry,
    check_range,
    check_source,
    validate_key,
    validate_prefix,
)

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@functools.cache
def _mime_types() -> mimetypes.MimeTypes:
    # Python's built-in table only: /etc/mime.types differs from host to host.
    return mimetypes.MimeTypes()


def _guess_type(name: str) -> str:
    return _mime_types().guess_type(name, strict=False)[0] or DEFAULT_CONTENT_TYPE


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"blob store root {self.root} is not usable: {exc}") from exc

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """Where `key` lives; refuses any path that would resolve outside the root."""
        path = self.root / validate_key(key)
        # validate_key already rules out '..'; this also catches a symlink inside root.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidInput(f"storage key {key!r} resolves outside the store")
        return path

    # -- writing -------------------------------------------------------------

    def put_file(self, key: str, path: Path, content_type: str) -> BlobInfo:
        source = check_source(path)

        def copy(out: BinaryIO) -> None:
            with source.open("rb") as src:
                shutil.copyfileobj(src, out, CHUNK_SIZE_BYTES * 4)

        return self._put(key, content_type, copy)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        return self._put(key, content_type, lambda out: out.write(data))

    def _put(self, key: str, content_type: str, write: Callable[[BinaryIO], object]) -> BlobInfo:
        target = self.path_for(key)
        try:
            _write_atomic(target, write)
            _write_atomic(_sidecar(target), lambda out: out.write(content_type.encode()))
        except OSError as exc:
            raise StorageError(f"cannot store {key!r}: {exc}") from exc
        return self.stat(key)

    # -- reading -------------------------------------------------------------

    def stat(self, key: str) -> BlobInfo:
        path = self.path_for(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no blob {key!r}") from None
        except OSError as exc:
            raise StorageError(f"cannot stat {key!r}: {exc}") from exc
        if not path.is_file():  # a folder of other keys
            raise NotFound(f"no blob {key!r}")
        try:
            content_type = _sidecar(path).read_text().strip() or _guess_type(path.name)
        except OSError:
            content_type = _guess_type(path.name)
        return BlobInfo(
            key=key,
            size_bytes=st.st_size,
            content_type=content_type,
            # Every put is a new file (os.replace), so the inode changes even when the
            # clock tick and the size do not.
            etag=f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}",
            modified_at=datetime.fromtimestamp(st.st_mtime, UTC),
        )

    def read_bytes(self, key: str) -> bytes:
        path = self.local_path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob {key!r}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc}") from exc

    def open_range(self, key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        path = self.local_path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"no blob {key!r}") from None
        except OSError as exc:
            raise StorageError(f"cannot open {key!r}: {exc}") from exc
        try:
            # Size of the open file, so a concurrent replace cannot skew the range.
            end = check_range(start, end_inclusive, os.fstat(handle.fileno()).st_size)
        except BaseException:
            handle.close()
            raise
        return _read_range(handle, key, start, end)

    def local_path(self, key: str) -> Path:
        """The blob's file (raises NotFound if there is none)."""
        path = self.path_for(key)
        if not path.is_file():
            raise NotFound(f"no blob {key!r}")
        return path

    def signed_url(
        self,
        key: str,
        *,
        expires_s: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """Always None: a local disk has no URL of its own, so the API streams the file."""
        validate_key(key)
        check_expiry(expires_s)
        return None

    # -- deleting ------------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        if path.is_dir():  # a folder of other keys, not a blob
            return
        try:
            path.unlink(missing_ok=True)
            _sidecar(path).unlink(missing_ok=True)
        except NotADirectoryError:
            return
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r}: {exc}") from exc
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        folder = self.path_for(validate_prefix(prefix))
        if not folder.is_dir():
            return 0
        count = sum(
            1 for _, _, files in os.walk(folder) for name in files if not name.startswith(".")
        )
        # Move the folder aside first so it vanishes at once, then remove it at leisure.
        doomed = folder.with_name(f".{folder.name}.deleted-{os.urandom(6).hex()}")
        try:
            folder.rename(doomed)
            shutil.rmtree(doomed)
        except OSError as exc:
            raise StorageError(f"cannot delete {prefix!r}: {exc}") from exc
        self._prune(folder.parent)
        return count

    def keys(self, prefix: str = "") -> Iterator[str]:
        folder = self.path_for(validate_prefix(prefix)) if prefix else self.root
        for directory, subdirectories, files in os.walk(folder):
            # Dot-names are the store's own: sidecars, temporary and deleted folders.
            subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
            for name in files:
                if not name.startswith("."):
                    yield (Path(directory) / name).relative_to(self.root).as_posix()

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty, up to the root, so deleted renders leave no litter."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone): stop here
                return
            folder = folder.parent


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.type")


def _write_atomic(target: Path, write: Callable[[BinaryIO], object]) -> None:
    for attempt in range(2):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp_name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
        except FileNotFoundError:
            if attempt:  # a concurrent delete pruned the folder we just made: retry once
                raise
            continue
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            # mkstemp makes the file 0600; blobs should be readable like any other file.
            tmp.chmod(0o644)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return


def _read_range(handle: BinaryIO, key: str, start: int, end: int) -> Iterator[bytes]:
    with handle:
        try:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(CHUNK_SIZE_BYTES, remaining))
                if not chunk:  # truncated under us: fail loudly rather than send short
                    raise StorageError(f"blob {key!r} ended early while streaming")
                remaining -= len(chunk)
                yield chunk
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc}") from exc
