from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from reelforge.errors import InvalidInput
from reelforge.model.storyboard import Aspect, Resolution, Scene, Storyboard, VideoSettings


def _board(**settings: object) -> Storyboard:
    return Storyboard(
        title="t", settings=VideoSettings(**settings), scenes=(Scene(narration="Hello there."),)
    )


def test_json_round_trip_is_lossless() -> None:
    board = _board(aspect="9:16", resolution="1080p", fps=25, seed=3)
    assert Storyboard.from_json(board.to_json()) == board


@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [
        (Aspect.LANDSCAPE, Resolution.HD, (1280, 720)),
        (Aspect.PORTRAIT, Resolution.FHD, (1080, 1920)),
        (Aspect.SQUARE, Resolution.SD, (480, 480)),
        (Aspect.LANDSCAPE, Resolution.SD, (854, 480)),
    ],
)
def test_frame_size_follows_aspect_and_resolution(
    aspect: Aspect, resolution: Resolution, size: tuple[int, int]
) -> None:
    assert VideoSettings(aspect=aspect, resolution=resolution).size == size


@pytest.mark.parametrize("duration", [0, 9.9, 600.1, 10_000])
def test_target_duration_outside_10_to_600_s_is_rejected(duration: float) -> None:
    with pytest.raises(ValidationError):
        VideoSettings(target_duration_s=duration)


def test_unknown_aspect_is_rejected() -> None:
    with pytest.raises(ValidationError):
        VideoSettings(aspect="4:3")  # type: ignore[arg-type]


def test_blank_narration_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Scene(narration="   ")


def test_unreadable_storyboard_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "sb.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"sb\.json"):
        Storyboard.load(bad)


def test_missing_files_are_reported(tmp_path: Path) -> None:
    board = Storyboard.model_validate(
        {
            "scenes": [
                {"narration": "x", "visual": {"kind": "file", "path": str(tmp_path / "no.png")}}
            ]
        }
    )
    assert board.missing_files() == [tmp_path / "no.png"]


def test_assets_and_files_a_storyboard_uses() -> None:
    logo, song, clip = (str(uuid.uuid4()) for _ in range(3))
    board = Storyboard.model_validate({
        "settings": {"music": {"asset_id": song}, "watermark": {"asset_id": logo, "size": 0.2}},
        "scenes": [{"narration": "A.", "visual": {"kind": "file", "asset_id": clip}},
                   {"narration": "B.", "visual": {"kind": "file", "path": "/tmp/b.png"}}],
    })  # fmt: skip
    assert [str(a) for a in board.asset_ids()] == [clip, song, logo]
    assert board.named_files() == [Path("/tmp/b.png")]
    with_file = VideoSettings.model_validate({"watermark": {"file": "/srv/logo.png"}})
    assert with_file.named_files() == [Path("/srv/logo.png")]
    with pytest.raises(ValidationError, match="asset_id"):
        VideoSettings.model_validate({"watermark": {"position": "top-left"}})
    with pytest.raises(ValidationError):
        VideoSettings.model_validate({"watermark": {"asset_id": logo, "size": 0.9}})
