"""A render's uploaded assets: fetched from the blob store, named in the storyboard."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from reelforge.errors import InvalidInput
from reelforge.jobs import inputs
from reelforge.model.storyboard import Storyboard, VideoSettings, VisualKind
from reelforge.storage import LocalBlobStore


def test_assets_are_copied_and_named_where_they_are_used(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    logo, song = uuid.uuid4(), uuid.uuid4()
    (tmp_path / "x").write_bytes(b"png")
    blobs.put_file(f"assets/{logo}/file.png", tmp_path / "x", "image/png")
    blobs.put_file(f"assets/{song}/file.mp3", tmp_path / "x", "audio/mpeg")
    refs = {
        str(logo): {"key": f"assets/{logo}/file.png", "kind": "image"},
        str(song): {"key": f"assets/{song}/file.mp3", "kind": "audio"},
    }
    files = inputs.fetch(blobs, refs, tmp_path / "inputs")
    assert files[logo].read_bytes() == b"png" and files[logo].suffix == ".png"

    board = Storyboard.model_validate({
        "settings": {"music": {"asset_id": str(song)}, "watermark": {"asset_id": str(logo)}},
        "scenes": [{"narration": "A.", "visual": {"asset_id": str(logo)}}, {"narration": "B."}],
    })  # fmt: skip
    resolved, _ = inputs.with_files(board, None, files)
    assert isinstance(resolved, Storyboard)
    first, second = resolved.scenes
    assert first.visual.kind is VisualKind.FILE and first.visual.path == files[logo]
    assert second.visual.path is None
    assert resolved.settings.music.file == files[song]
    assert resolved.settings.watermark and resolved.settings.watermark.file == files[logo]

    settings = VideoSettings.model_validate({"music": {"asset_id": str(song)}})
    _, prompt_settings = inputs.with_files("A prompt.", settings, files)
    assert prompt_settings and prompt_settings.music.file == files[song]


def test_an_asset_deleted_since_the_submit_is_an_input_error(tmp_path: Path) -> None:
    gone = uuid.uuid4()
    refs = {str(gone): {"key": f"assets/{gone}/file.png", "kind": "image"}}
    with pytest.raises(InvalidInput, match="deleted after this render was submitted"):
        inputs.fetch(LocalBlobStore(tmp_path / "blobs"), refs, tmp_path / "inputs")
