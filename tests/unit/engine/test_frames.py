from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.engine.frames import (
    Motion,
    StillMotion,
    black_frame,
    blend,
    fill_crop,
    rgb_to_yuv420,
    still_size,
)


def test_bt709_limited_range_extremes() -> None:
    white = rgb_to_yuv420(np.full((4, 4, 3), 255, np.uint8))
    black = rgb_to_yuv420(np.zeros((4, 4, 3), np.uint8))
    assert white[0].min() == 235 and black[0].max() == 16
    assert np.all(np.abs(white[1].astype(int) - 128) <= 1)
    assert white[1].shape == (2, 2)


def test_still_size_leaves_even_headroom() -> None:
    assert still_size((1280, 720)) == (1434, 806)


def test_motion_is_deterministic_and_alternates_direction() -> None:
    assert Motion.for_scene(7, 0, 100) == Motion.for_scene(7, 0, 100)
    zoom_in, zoom_out = Motion.for_scene(7, 0, 100), Motion.for_scene(7, 1, 100)
    assert zoom_in.at(0)[0] < zoom_in.at(100)[0]
    assert zoom_out.at(0)[0] > zoom_out.at(100)[0]


def test_motion_never_stops_and_never_jumps() -> None:
    motion = Motion.for_scene(1, 0, 150)
    zooms = [motion.at(f)[0] for f in range(151)]
    steps = [b - a for a, b in pairwise(zooms)]
    assert min(steps) > 0
    assert max(steps) < 3 * min(steps)


@pytest.fixture
def checker(tmp_path: Path) -> Path:
    size = still_size((320, 180))
    grid = (np.indices((size[1], size[0])).sum(axis=0) // 16 % 2 * 255).astype(np.uint8)
    path = tmp_path / "still.png"
    Image.fromarray(np.stack([grid] * 3, axis=-1)).save(path)
    return path


def test_still_motion_frames_have_the_frame_size_and_move_smoothly(checker: Path) -> None:
    source = StillMotion(checker, (320, 180), Motion.for_scene(3, 0, 60))
    frames = [tuple(p.copy() for p in f) for f in source.frames(60)]
    assert frames[0][0].shape == (180, 320)
    assert frames[0][1].shape == (90, 160)
    diffs = [np.abs(a[0].astype(int) - b[0].astype(int)).mean() for a, b in pairwise(frames)]
    assert min(diffs) > 0
    assert max(diffs) < 4 * np.median(diffs) + 1


def test_frames_can_start_later(checker: Path) -> None:
    source = StillMotion(checker, (320, 180), Motion.for_scene(3, 0, 60))
    all_frames = [tuple(p.copy() for p in f) for f in source.frames(11)]
    later = [tuple(p.copy() for p in f) for f in source.frames(1, start=10)]
    assert np.array_equal(all_frames[10][0], later[0][0])


def test_blend_weights() -> None:
    black = black_frame((4, 4))
    white = tuple(np.full_like(p, 200) for p in black)
    half = blend(black, white, 0.5)  # type: ignore[arg-type]
    assert half[0][0, 0] == 108


def test_fill_crop_keeps_a_fitting_image_and_crops_the_centre_of_a_larger_one() -> None:
    pixels = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    fitting = Image.fromarray(pixels)
    assert np.array_equal(np.asarray(fill_crop(fitting, (8, 6))), pixels)
    wider = Image.fromarray(np.pad(pixels, ((0, 0), (2, 2), (0, 0))))
    assert np.array_equal(np.asarray(fill_crop(wider, (8, 6))), pixels)
