"""Small solid-colour media made on the spot (Pillow and the bundled ffmpeg), so a test
can tell its own upload in a rendered frame by its colour, and a song by its sound."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

RGB = tuple[int, int, int]


def solid_image(path: Path, color: RGB, size: tuple[int, int] = (64, 48), **save: object) -> Path:
    Image.new("RGB", size, color).save(path, **save)
    return path


def _ffmpeg(*args: str) -> None:
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def solid_clip(
    path: Path, color: RGB, seconds: float = 2.0, size: tuple[int, int] = (64, 48),
    *, fps: int = 10,
) -> Path:  # fmt: skip
    """A silent H.264 (MP4/MOV) or VP9 (WebM) clip of one colour, by `path`'s suffix."""
    hex_color = "0x{:02x}{:02x}{:02x}".format(*color)
    codec = ["-c:v", "libvpx-vp9", "-b:v", "100k"] if path.suffix == ".webm" else [
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast",
    ]  # fmt: skip
    _ffmpeg(
        "-f", "lavfi", "-i", f"color=c={hex_color}:s={size[0]}x{size[1]}:r={fps}:d={seconds}",
        *codec, str(path),
    )  # fmt: skip
    return path


def tone(path: Path, seconds: float = 3.0, hz: int = 440) -> Path:
    """A sine tone; the encoder follows `path`'s suffix (.mp3, .wav, .ogg, .m4a)."""
    codec = {".ogg": ["-c:a", "libvorbis"], ".m4a": ["-c:a", "aac"]}.get(path.suffix, [])
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency={hz}:duration={seconds}", *codec, str(path))
    return path
