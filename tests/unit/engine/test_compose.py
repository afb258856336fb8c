"""Encoding a run of frames: the segments keep the colours they were given."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from reelforge.engine import ffmpeg
from reelforge.engine.compile import Encoder
from reelforge.engine.compose import encode_run
from reelforge.engine.frames import rgb_to_yuv420

SIZE = (64, 48)


def decoded_planes(video: Path) -> np.ndarray:
    argv = [ffmpeg.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(video),
            "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]  # fmt: skip
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8)


def test_a_saturated_colour_comes_out_of_the_encoder_as_it_went_in(tmp_path: Path) -> None:
    """The frames are BT.709: ffmpeg must not take them for BT.601 and convert them."""
    orange = rgb_to_yuv420(np.full((SIZE[1], SIZE[0], 3), (240, 120, 20), np.uint8))
    files, _ = encode_run(
        iter([orange] * 10), [5], total=10, size=SIZE, fps=30, encoder=Encoder(),
        out_dir=tmp_path,
    )  # fmt: skip
    sent = np.concatenate([plane.ravel() for plane in orange]).astype(int)
    for segment in files:
        assert np.abs(decoded_planes(segment).astype(int) - sent).max() <= 2
