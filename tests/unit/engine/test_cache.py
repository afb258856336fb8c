from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from reelforge.engine.cache import ABANDONED_BUILD_S, ArtifactCache, artifact_key, prune
from reelforge.jobs.kinds import prune_abandoned_work
from reelforge.model.storyboard import VideoSettings


def test_key_is_stable_and_order_independent() -> None:
    a = artifact_key("voice", "piper@1", {"text": "hi", "rate": 1.0})
    b = artifact_key("voice", "piper@1", {"rate": 1.0, "text": "hi"})
    assert a == b
    assert len(a) == 64


@pytest.mark.parametrize(
    "other",
    [
        ("visuals", "piper@1", {"text": "hi", "rate": 1.0}),
        ("voice", "piper@2", {"text": "hi", "rate": 1.0}),
        ("voice", "piper@1", {"text": "hi!", "rate": 1.0}),
        ("voice", "piper@1", {"text": "hi", "rate": 1.1}),
    ],
)
def test_any_change_changes_the_key(other: tuple[str, str, dict[str, object]]) -> None:
    assert artifact_key("voice", "piper@1", {"text": "hi", "rate": 1.0}) != artifact_key(*other)


def test_models_and_paths_are_hashed_by_value() -> None:
    assert artifact_key("s", "p", {"s": VideoSettings(), "p": Path("/a")}) == artifact_key(
        "s", "p", {"s": VideoSettings().model_dump(mode="json"), "p": "/a"}
    )


def test_fetch_builds_once_then_hits(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    calls = []

    def build(out: Path) -> None:
        calls.append(out)
        (out / "a.txt").write_text("x")

    first = cache.fetch("voice", "ab" * 32, build)
    second = cache.fetch("voice", "ab" * 32, build)
    assert first == second
    assert (first / "a.txt").read_text() == "x"
    assert len(calls) == 1
    assert cache.misses == {"voice": 1}
    assert cache.hits == {"voice": 1}


def test_failed_build_publishes_nothing(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)

    def broken(out: Path) -> None:
        (out / "half.txt").write_text("partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.fetch("voice", "cd" * 32, broken)
    assert not cache.path_for("cd" * 32).exists()
    assert not any((tmp_path / "tmp").iterdir())


def test_refresh_rebuilds_and_replaces(tmp_path: Path) -> None:
    key = "ef" * 32
    ArtifactCache(tmp_path).fetch("segment", key, lambda out: (out / "v").write_text("old"))
    refreshed = ArtifactCache(tmp_path, refresh=frozenset({"segment"}))
    folder = refreshed.fetch("segment", key, lambda out: (out / "v").write_text("new"))
    assert (folder / "v").read_text() == "new"
    assert refreshed.misses == {"segment": 1}


DAY_S = 86400.0


def cached(cache: ArtifactCache, name: str, size: int, used_days_ago: float) -> Path:
    """An entry of `size` bytes last used `used_days_ago` days ago."""
    entry = cache.fetch("stage", artifact_key("stage", name, {}),
                        lambda tmp: (tmp / "data").write_bytes(b"x" * size))  # fmt: skip
    when = time.time() - used_days_ago * DAY_S
    os.utime(entry, (when, when))
    return entry


def test_prune_removes_the_unused_then_the_least_recently_used(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    old = cached(cache, "old", 100, used_days_ago=40)
    a, b, c = (cached(cache, n, 100, used_days_ago=d) for n, d in (("a", 3), ("b", 2), ("c", 1)))
    cache.fetch("stage", artifact_key("stage", "a", {}), lambda tmp: None)  # a hit: a is newest

    done = prune(tmp_path, max_bytes=200, max_age_s=30 * DAY_S)

    assert (done.entries, done.freed_bytes, done.kept_bytes) == (2, 200, 200)
    assert not old.exists() and not b.exists()  # too old; then least recently used
    assert a.is_dir() and c.is_dir()
    assert prune(tmp_path, max_bytes=200, max_age_s=30 * DAY_S).entries == 0  # already fits


def test_prune_clears_abandoned_builds_only(tmp_path: Path) -> None:
    abandoned, building = tmp_path / "tmp" / "killed", tmp_path / "tmp" / "live"
    for folder in (abandoned, building):
        folder.mkdir(parents=True)
    long_ago = time.time() - ABANDONED_BUILD_S - 60
    os.utime(abandoned, (long_ago, long_ago))
    prune(tmp_path, max_bytes=2**30, max_age_s=DAY_S)
    assert not abandoned.exists() and building.is_dir()


def test_abandoned_render_work_folders_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead, live = tmp_path / "renders" / "dead", tmp_path / "renders" / "live"
    for folder in (dead, live):
        (folder / ".render-x").mkdir(parents=True)
        (folder / ".render-x" / "segment.mp4").write_bytes(b"partial")
    long_ago = time.time() - 2 * DAY_S
    for path in (dead / ".render-x" / "segment.mp4", dead / ".render-x", dead):
        os.utime(path, (long_ago, long_ago))
    assert prune_abandoned_work(tmp_path, max_age_s=DAY_S) == 1
    assert not dead.exists() and live.is_dir()
