from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from reelforge.assets import font_path
from reelforge.engine import captions as cap
from reelforge.engine.captions import Cue
from reelforge.engine.compile import BT709_TAGS, escape_filter_value
from reelforge.engine.ffmpeg import ffmpeg_exe
from reelforge.engine.frames import Frame, rgb_to_yuv420
from reelforge.engine.sprites import render
from reelforge.model.storyboard import Aspect, Captions
from reelforge.providers.base import Word

SIZE, FPS, FRAMES = (320, 240), 30, 48
STYLE = Captions(color="#20C0FF", highlight_color="#FF3010")
LAYOUT = cap.layout(STYLE, Aspect.LANDSCAPE, SIZE)


def _frames() -> list[Frame]:
    """Moving colour ramps: a caption blended with the wrong background would show."""
    width, height = SIZE
    yy, xx = np.mgrid[0:height, 0:width]
    return [
        rgb_to_yuv420(
            np.stack([(xx + 4 * k) % 256, yy * 255 // height, (xx + yy) % 256], -1).astype(np.uint8)
        )
        for k in range(FRAMES)
    ]


def _script() -> str:
    """Two cues, a word highlighted at a time, placed at frame 6: every change falls exactly
    on a frame's time (the first at frame 9, 300 ms)."""
    words = [Word(w, 0.1 + i * 0.2, 0.28 + i * 0.2) for i, w in enumerate(["Red", "fox,", "jump!"])]
    cues = [Cue(0.1, 0.48, tuple(words[:2])), Cue(0.5, 0.9, tuple(words[2:]))]
    return cap.run_ass([(cues, 6)], STYLE, Aspect.LANDSCAPE, SIZE, FPS)


def _libass(frames: list[Frame], script: Path) -> list[bytes]:
    """The frames with the captions burnt in by ffmpeg's `subtitles` filter, as they were."""
    width, height = SIZE
    burn = (
        f"subtitles=filename={escape_filter_value(str(script))}"
        f":fontsdir={escape_filter_value(str(font_path(bold=True).parent))}"
    )
    argv = [ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
            "-s", f"{width}x{height}", "-r", str(FPS), *BT709_TAGS, "-i", "pipe:0", "-vf", burn,
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]  # fmt: skip
    raw = b"".join(plane.tobytes() for frame in frames for plane in frame)
    out = subprocess.run(argv, input=raw, capture_output=True, check=True).stdout
    size = width * height * 3 // 2
    return [out[k * size : (k + 1) * size] for k in range(len(frames))]


@pytest.mark.parametrize(
    "rows",
    [None, cap.caption_rows(LAYOUT, SIZE[1]), (SIZE[1] - 60, SIZE[1] - 30)],
    ids=["whole frames", "caption band", "band too small"],
)
def test_sprites_blend_each_frame_as_libass_burnt_it(
    tmp_path: Path, rows: tuple[int, int] | None
) -> None:
    """Same place, same frames, same colours as libass drawing into every frame: within
    a rounding step of its blend, and the frames around each caption change are covered."""
    frames, script = _frames(), _script()
    (tmp_path / "captions.ass").write_text(script, encoding="utf-8")
    burnt = _libass(frames, tmp_path / "captions.ass")
    sprites = render(
        script, size=SIZE, fps=FPS, frames=FRAMES, fonts_dir=font_path(bold=True).parent,
        work=tmp_path, stage="compose", rows=rows,
    )  # fmt: skip
    captioned = 0
    for k, frame in enumerate(frames):
        ours = np.frombuffer(b"".join(sprites.planes(frame, k)), np.uint8).astype(int)
        theirs = np.frombuffer(burnt[k], np.uint8).astype(int)
        plain = np.concatenate([plane.ravel() for plane in frame]).astype(int)
        assert np.abs(ours - theirs).max() <= 3, f"frame {k}"
        captioned += bool(np.abs(theirs - plain).max() > 40)
    assert 20 < captioned < FRAMES - 10
    assert list(tmp_path.iterdir()) == [tmp_path / "captions.ass"]


def test_frames_without_captions_are_passed_on_untouched(tmp_path: Path) -> None:
    sprites = render(
        cap.run_ass([], Captions(), Aspect.LANDSCAPE, SIZE, FPS), size=SIZE, fps=FPS,
        frames=FRAMES, fonts_dir=font_path(bold=True).parent, work=tmp_path, stage="compose",
    )  # fmt: skip
    frame = _frames()[0]
    assert [bytes(p) for p in sprites.planes(frame, 3)] == [p.tobytes() for p in frame]
