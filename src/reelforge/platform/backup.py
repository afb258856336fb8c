"""`reelforge backup` / `reelforge restore`: everything a deployment keeps — the database and
every stored file (renders, thumbnails, uploads), local or on S3 — in one tar file with a
manifest. Blobs stream through a temporary file one at a time, so memory stays flat.

The secret key (`REELFORGE_SECRET_KEY`, or `<data_dir>/secret.key`) is not in the backup:
keep it apart, as the backup without it cannot decrypt users' stored provider keys.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from reelforge.db import backup as database
from reelforge.db.migrate import upgrade
from reelforge.errors import InvalidInput
from reelforge.platform.services import Platform
from reelforge.storage import BlobStore

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
BLOBS = "blobs/"


@dataclass(frozen=True, slots=True)
class Summary:
    path: Path
    database: str
    revision: str | None
    blobs: int
    blob_bytes: int


def backup(platform: Platform, out: Path) -> Summary:
    """Write the backup to `out` (atomically: a failed one never bears the final name)."""
    url, blobs = platform.settings.db_url, platform.blobs
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as tmp:
        work = Path(tmp)
        backend = database.dump(url, work / "database")
        entries: list[dict[str, Any]] = []
        partial = work / "backup.tar"
        with tarfile.open(partial, "w") as tar:
            tar.add(work / "database", arcname=DATABASE_FILES[backend])
            for key in sorted(blobs.keys()):
                entries.append(_add_blob(tar, blobs, key, work))
            manifest = {
                "format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
                "reelforge": version("reelforge"), "database": backend,
                "revision": database.revision(url), "blobs": entries,
            }  # fmt: skip
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
        partial.replace(out)
    return _summary(out, manifest)


def restore(platform: Platform, archive: Path) -> Summary:
    """Put the backup's database and files back, then migrate the schema to this version."""
    url, blobs = platform.settings.db_url, platform.blobs
    try:
        tar = tarfile.open(archive)
    except (OSError, tarfile.TarError) as exc:
        reason = str(exc).splitlines()[0].rstrip(":")
        raise InvalidInput(f"{archive} is not a reelforge backup ({reason})") from exc
    with tar, tempfile.TemporaryDirectory(prefix="reelforge-restore-") as tmp:
        manifest = _manifest(tar, archive)
        dumped = Path(tmp) / "database"
        _extract(tar, DATABASE_FILES[manifest["database"]], dumped)
        database.load(url, dumped, manifest["database"])
        for entry in manifest["blobs"]:
            staged = Path(tmp) / "blob"
            _extract(tar, BLOBS + entry["key"], staged)
            blobs.put_file(entry["key"], staged, entry["content_type"])  # the store checks keys
    upgrade(url)
    return _summary(archive, manifest)


def _add_blob(tar: tarfile.TarFile, blobs: BlobStore, key: str, work: Path) -> dict[str, Any]:
    info = blobs.stat(key)
    local = blobs.local_path(key)
    if local is not None:
        tar.add(local, arcname=BLOBS + key)
    else:
        staged = work / "blob"
        with staged.open("wb") as handle:
            if info.size_bytes:  # a range read of an empty blob would be refused (416)
                for chunk in blobs.open_range(key, 0, info.size_bytes - 1):
                    handle.write(chunk)
        tar.add(staged, arcname=BLOBS + key)
        staged.unlink()
    return {"key": key, "size": info.size_bytes, "content_type": info.content_type}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(member, io.BytesIO(data))


def _manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        handle = tar.extractfile(MANIFEST)
        manifest: dict[str, Any] = json.load(handle) if handle else {}
    except (KeyError, ValueError) as exc:
        raise InvalidInput(f"{archive} is not a reelforge backup (no manifest)") from exc
    if manifest.get("format") != FORMAT or manifest.get("database") not in DATABASE_FILES:
        raise InvalidInput(f"{archive}: unknown backup format {manifest.get('format')!r}")
    return manifest


def _extract(tar: tarfile.TarFile, name: str, target: Path) -> None:
    """One member's bytes into `target`, streamed (never `extractall`: no path in the
    archive decides where anything is written)."""
    try:
        source = tar.extractfile(name)
    except KeyError as exc:
        raise InvalidInput(f"the backup is missing {name}") from exc
    if source is None:
        raise InvalidInput(f"the backup's {name} is not a file")
    with source, target.open("wb") as handle:
        shutil.copyfileobj(source, handle)


def _summary(path: Path, manifest: dict[str, Any]) -> Summary:
    return Summary(
        path, manifest["database"], manifest["revision"], len(manifest["blobs"]),
        sum(int(entry["size"]) for entry in manifest["blobs"]),
    )  # fmt: skip
