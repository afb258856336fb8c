"""Content-addressed artifact cache: a stage's output, keyed by everything it depends on.

Key = sha256 of (stage, provider id + version, inputs as canonical JSON).
An entry is a directory; it appears atomically (written under a temporary
name, then renamed), so a crash never leaves a half-written artifact that a
later render would trust. A hit touches the entry, so `prune` (by age, then by
total size) removes the least recently used first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelforge.errors import StorageError

CACHE_FORMAT = 1


def _canonical(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if hasattr(value, "model_dump"):
        return _canonical(value.model_dump(mode="json"))
    return value


def artifact_key(stage: str, provider: str, inputs: Mapping[str, Any]) -> str:
    """Stable hex key for one stage run; any change to an input changes the key."""
    payload = json.dumps(
        {
            "format": CACHE_FORMAT,
            "stage": stage,
            "provider": provider,
            "inputs": _canonical(inputs),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, for keys that depend on a user's file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ArtifactCache:
    root: Path
    refresh: frozenset[str] = frozenset()
    """Stages whose artifacts are rebuilt (and replaced) even when present."""
    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / key

    def has(self, stage: str, key: str) -> bool:
        """Whether `fetch` would find artifact `key` (and not rebuild it)."""
        return self.path_for(key).is_dir() and stage not in self.refresh

    def fetch(self, stage: str, key: str, build: Callable[[Path], None]) -> Path:
        """The directory holding artifact `key`, calling `build(tmp_dir)` on a miss.

        `build` writes its files into the directory it is given; the directory
        is published under the key only if `build` returns normally.
        """
        final = self.path_for(key)
        if final.is_dir() and stage not in self.refresh:
            self.hits[stage] = self.hits.get(stage, 0) + 1
            with contextlib.suppress(OSError):  # a read-only cache still serves hits
                os.utime(final)
            return final
        self.misses[stage] = self.misses.get(stage, 0) + 1
        tmp = self.root / "tmp" / f"{key}.{uuid.uuid4().hex}"
        try:
            tmp.mkdir(parents=True)
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cache at {self.root} is not writable: {exc}", stage=stage) from exc
        try:
            build(tmp)
            if final.is_dir():  # a refresh: move the old entry aside, then swap
                stale = tmp.with_name(tmp.name + ".stale")
                final.replace(stale)
                shutil.rmtree(stale, ignore_errors=True)
            tmp.replace(final)
        except OSError as exc:
            if final.is_dir():  # another render published the same artifact first
                return final
            raise StorageError(f"cannot store artifact: {exc}", stage=stage) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final


ABANDONED_BUILD_S = 3600.0
"""A build folder this old belongs to a render that was killed: no build takes an hour."""


@dataclass(frozen=True, slots=True)
class Pruned:
    entries: int
    freed_bytes: int
    kept_bytes: int


def prune(root: Path, *, max_bytes: int, max_age_s: float, now: float | None = None) -> Pruned:
    """Remove entries unused for `max_age_s`, then the least recently used until the cache
    holds at most `max_bytes`; and build folders abandoned (by a killed render) over an hour
    ago. Safe while renders run: an entry in use was touched, so it is the newest."""
    now = time.time() if now is None else now
    entries = sorted(
        ((entry.stat().st_mtime, _size(entry), entry)
         for shard in root.glob("??") if shard.is_dir() for entry in shard.iterdir()),
        key=lambda found: found[0],
    )  # fmt: skip
    total = sum(size for _, size, _ in entries)
    removed = freed = 0
    for used_at, size, entry in entries:
        if now - used_at <= max_age_s and total <= max_bytes:
            break  # oldest first: every later entry is newer still
        shutil.rmtree(entry, ignore_errors=True)
        removed, freed, total = removed + 1, freed + size, total - size
    for abandoned in (root / "tmp").glob("*") if (root / "tmp").is_dir() else ():
        if now - abandoned.stat().st_mtime > ABANDONED_BUILD_S:
            shutil.rmtree(abandoned, ignore_errors=True)
    return Pruned(removed, freed, total)


def _size(entry: Path) -> int:
    return sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
