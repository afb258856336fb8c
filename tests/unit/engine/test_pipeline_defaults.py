"""Where the library's `render()` keeps its cache when not told: the user's own cache folder,
as `REELFORGE_CACHE_DIR` documents, never `/tmp/reelforge-cache` shared by every local user."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.engine.pipeline import default_cache_dir


def test_the_default_cache_is_the_users_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "reelforge"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "reelforge"
