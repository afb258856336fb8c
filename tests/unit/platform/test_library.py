"""Upload scratch folders a crash left behind are swept; live ones are kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from reelforge.platform.library import STALE_UPLOAD_S, default_name, sweep


def test_stale_upload_folders_are_swept(tmp_path: Path) -> None:
    stale, live = tmp_path / "upload-old", tmp_path / "upload-new"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "upload").write_bytes(b"x")
    old = time.time() - STALE_UPLOAD_S - 60
    os.utime(stale, (old, old))
    sweep(tmp_path, time.time())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload-new"]


def test_an_asset_is_named_after_its_file() -> None:
    assert default_name("Holiday photo.final.JPG") == "Holiday photo.final"
    assert default_name("") == default_name("   ") == "upload"
