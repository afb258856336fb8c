from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.engine.cache import ArtifactCache, artifact_key
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
