"""Frame sources for one scene: a still with smooth Ken Burns motion, or a user's clip.

Motion is a bilinear affine warp of each yuv420p plane of a still that is
colour-converted once (OpenCV `warpAffine`, inverse map, sub-pixel): measured
0.03 px jitter against ~1 px for ffmpeg's zoompan, at about 1.4x the cost of
encoding alone (see shared/notes/composition.md).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from reelforge.engine import ffmpeg
from reelforge.engine.compile import clip_decode_argv

Plane = NDArray[np.uint8]
Frame = tuple[Plane, Plane, Plane]
"""Y, U, V planes of one yuv420p frame (BT.709, limited range)."""

MOTION_HEADROOM = 1.12
"""Stills are made this much larger than the frame, so the closest zoom is pixel-sharp."""

_BT709 = np.array(
    [[0.2126, 0.7152, 0.0722], [-0.1146, -0.3854, 0.5], [0.5, -0.4542, -0.0458]],
    dtype=np.float32,
)
_BT709_LIMITED = np.hstack(
    [_BT709 * np.array([[219 / 255], [224 / 255], [224 / 255]]), [[16], [128], [128]]]
).astype(np.float32)
"""RGB → limited-range Y, U, V (BT.709), as `cv2.transform` takes it (offsets last)."""


def rgb_to_yuv420(rgb: NDArray[np.uint8]) -> Frame:
    """BT.709 limited-range yuv420p planes of an RGB image with even sides.

    Chroma is converted from the RGB averaged at half size (both steps are linear): a
    quarter of the pixels. `cv2.transform` rounds and saturates straight into uint8.
    """
    height, width = rgb.shape[:2]
    y = np.asarray(cv2.transform(rgb, _BT709_LIMITED[:1]), np.uint8)
    half = cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    u, v = (np.asarray(p, np.uint8) for p in cv2.split(cv2.transform(half, _BT709_LIMITED[1:])))
    return y, u, v


def yuv420_planes(data: bytes, size: tuple[int, int]) -> Frame:
    """A raw yuv420p frame as ffmpeg hands it over, as its three planes (views, no copy)."""
    width, height = size
    flat = np.frombuffer(data, np.uint8)
    luma, chroma = width * height, width * height // 4
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma :].reshape(height // 2, width // 2),
    )


def still_size(size: tuple[int, int]) -> tuple[int, int]:
    """Size of a still that leaves room for motion, both sides even."""
    return tuple(round(side * MOTION_HEADROOM / 2) * 2 for side in size)  # type: ignore[return-value]


def black_frame(size: tuple[int, int]) -> Frame:
    width, height = size
    return (
        np.full((height, width), 16, np.uint8),
        np.full((height // 2, width // 2), 128, np.uint8),
        np.full((height // 2, width // 2), 128, np.uint8),
    )


def blend(a: Frame, b: Frame, weight_b: float) -> Frame:
    """(1 - w)·a + w·b, plane by plane."""
    return tuple(  # type: ignore[return-value]
        cv2.addWeighted(pa, 1.0 - weight_b, pb, weight_b, 0.0) for pa, pb in zip(a, b, strict=True)
    )


class FrameSource(Protocol):
    def frames(self, count: int, start: int = 0) -> Iterator[Frame]:
        """`count` frames from frame `start` (sources never run out: they hold or loop)."""
        ...


@dataclass(frozen=True, slots=True)
class Motion:
    """A slow zoom between two scales with a drift of the centre, over `span` frames."""

    zoom_from: float
    zoom_to: float
    drift_x: float
    drift_y: float
    """Drift of the view centre across the travel room, -1..1 of the available slack."""
    span: int

    @staticmethod
    def for_scene(seed: int, index: int, span: int) -> Motion:
        rng = random.Random(f"motion:{seed}:{index}")
        zoom_in = index % 2 == 0
        angle = rng.uniform(0, 2 * math.pi)
        near, far = 1.0, MOTION_HEADROOM
        return Motion(
            zoom_from=near if zoom_in else far,
            zoom_to=far if zoom_in else near,
            drift_x=0.6 * math.cos(angle),
            drift_y=0.6 * math.sin(angle),
            span=max(span, 1),
        )

    def at(self, frame: int) -> tuple[float, float, float]:
        """(zoom, centre offset x, centre offset y) at `frame`.

        Mostly linear, lightly eased: a pure ease-in-out would make the picture
        stand still at every cut, which reads as a stutter.
        """
        t = min(max(frame / self.span, 0.0), 1.0)
        eased = 0.75 * t + 0.25 * (0.5 - 0.5 * math.cos(math.pi * t))
        zoom = self.zoom_from + (self.zoom_to - self.zoom_from) * eased
        travel = 2 * eased - 1
        return zoom, self.drift_x * travel, self.drift_y * travel


class StillMotion:
    """Ken Burns over a still: three sub-pixel warps per frame into reused buffers."""

    def __init__(self, image: Path, size: tuple[int, int], motion: Motion) -> None:
        self._size = size
        self._motion = motion
        big = still_size(size)
        with Image.open(image) as img:
            rgb = np.asarray(fill_crop(img if img.mode == "RGB" else img.convert("RGB"), big))
        self._planes = rgb_to_yuv420(rgb)
        width, height = size
        self._out = (
            np.empty((height, width), np.uint8),
            np.empty((height // 2, width // 2), np.uint8),
            np.empty((height // 2, width // 2), np.uint8),
        )

    def _matrix(self, frame: int, plane_scale: float) -> NDArray[np.float64]:
        """Inverse map (output pixel → still pixel) for a plane scaled by `plane_scale`."""
        zoom, off_x, off_y = self._motion.at(frame)
        src_h, src_w = self._planes[0].shape
        out_w, out_h = self._size
        scale = (src_w / out_w) / zoom  # still pixels per output pixel
        slack_x = (src_w - out_w * scale) / 2
        slack_y = (src_h - out_h * scale) / 2
        centre_x = (src_w / 2 + off_x * slack_x) * plane_scale
        centre_y = (src_h / 2 + off_y * slack_y) * plane_scale
        half_w, half_h = out_w * plane_scale / 2, out_h * plane_scale / 2
        # pixel centres: src = centre + (dst + 0.5 - half) * scale - 0.5
        return np.array(
            [
                [scale, 0.0, centre_x + (0.5 - half_w) * scale - 0.5],
                [0.0, scale, centre_y + (0.5 - half_h) * scale - 0.5],
            ]
        )

    def frames(self, count: int, start: int = 0) -> Iterator[Frame]:
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        for frame in range(start, start + count):
            chroma = self._matrix(frame, 0.5)  # U and V share it
            for plane, out, matrix in zip(
                self._planes, self._out, (self._matrix(frame, 1.0), chroma, chroma), strict=True
            ):
                cv2.warpAffine(
                    plane,
                    matrix,
                    (out.shape[1], out.shape[0]),
                    dst=out,
                    flags=flags,
                    borderMode=cv2.BORDER_REPLICATE,
                )
            yield self._out


class ClipFrames:
    """A user's video clip, decoded by ffmpeg: scaled-cropped to fill, looped to length."""

    def __init__(
        self,
        clip: Path,
        size: tuple[int, int],
        fps: int,
        watchdog: ffmpeg.Watchdog = ffmpeg.DEFAULT_WATCHDOG,
    ) -> None:
        self._clip = clip
        self._size = size
        self._fps = fps
        self._watchdog = watchdog

    def frames(self, count: int, start: int = 0) -> Iterator[Frame]:
        width, height = self._size
        argv = clip_decode_argv(
            ffmpeg.ffmpeg_exe(), self._clip, size=self._size, fps=self._fps, frames=start + count
        )
        timeout_s = self._watchdog.timeout_s((start + count) / self._fps)
        reader = ffmpeg.FrameReader(
            argv, width * height * 3 // 2, stage="compose", timeout_s=timeout_s
        )
        last: Frame | None = None
        try:
            for _ in range(start):
                reader.read()
            for _ in range(count):
                data = reader.read()
                if data is not None:
                    last = yuv420_planes(data, self._size)
                yield last if last is not None else black_frame(self._size)
        finally:
            reader.close()


def fill_crop(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale `img` to cover `size` and crop the centre (no letterboxing); `img` itself if it
    already has that size (cached stills do: no copies)."""
    if img.size == size:
        return img
    width, height = size
    scale = max(width / img.width, height / img.height)
    resized = img.resize(
        (max(width, round(img.width * scale)), max(height, round(img.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))
