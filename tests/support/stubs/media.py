"""Real, small media files for the stock-library stubs to serve: JPEGs made with Pillow
and H.264 MP4s made with the bundled ffmpeg, both at exactly the advertised size.

Files are made on first request and kept for the test process: a catalogue may advertise
a 4K rendition, and only the ones a test actually downloads cost anything.
"""

from __future__ import annotations

import subprocess
import tempfile
from functools import lru_cache
from io import BytesIO
from pathlib import Path

import imageio_ffmpeg
from PIL import Image, ImageDraw

CLIP_S = 1
"""Clip length: enough frames to probe, short enough to make in a fraction of a second."""


@lru_cache(maxsize=64)
def jpeg(width: int, height: int) -> bytes:
    """A JPEG of exactly `width`×`height`: a gradient with a frame, so it is not blank."""
    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(230, 80, 40), width=max(2, width // 100))
    out = BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()


@lru_cache(maxsize=32)
def mp4(width: int, height: int, fps: int = 30) -> bytes:
    """A `CLIP_S`-second H.264/yuv420p MP4 test pattern of exactly `width`×`height`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin",
                "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}",
                "-t", str(CLIP_S), "-pix_fmt", "yuv420p", "-c:v", "libx264",
                "-preset", "ultrafast", "-movflags", "+faststart", "-y", str(out),
            ],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return out.read_bytes()


def fit_within(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """How an image CDN resizes to a box: keep the aspect, never upscale."""
    scale = min(1.0, box_w / width, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))
