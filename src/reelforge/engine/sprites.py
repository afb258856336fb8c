"""Caption sprites: each distinct caption image drawn once by libass, blended in our frame loop.

ffmpeg's `subtitles` filter blends every layer of a caption (shadow, outline, fill) into every
frame and copies each frame to make it writable: 1.46 CPU-s for a 30 s 720p video, 6.34 for
a 60 s 1080x1920 one (bench/RESULTS.md). Here ffmpeg + libass draw each distinct set of
showing events once, over two backgrounds (every plane 0, then every plane 255). ffmpeg's
blend of libass's images is linear in the background, so per plane
`out = colour + background·clear/255`: the render over 0 is the premultiplied colour, the
difference of the two renders the transmission. Only the box where the two renders differ is
kept, and only that box of the frames showing it is blended: the look and geometry stay
libass's own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reelforge.engine import ffmpeg
from reelforge.engine.compile import caption_sprites_argv
from reelforge.engine.frames import Frame, Plane, yuv420_planes
from reelforge.errors import RenderError


@dataclass(frozen=True, slots=True)
class _Event:
    start_ms: int
    end_ms: int
    fields: tuple[str, str]
    """The Dialogue line's fields before and after its two times."""


def _ms(clock: str) -> int:
    hours, minutes, seconds = clock.split(":")
    return (int(hours) * 3600 + int(minutes) * 60) * 1000 + round(float(seconds) * 1000)


def _parse(script: str) -> tuple[list[str], list[_Event]]:
    """The script's lines other than its events, and its events (our own ASS: `to_ass`)."""
    header, events = [], []
    for line in script.splitlines():
        if not line.startswith("Dialogue:"):
            header.append(line)
            continue
        layer, start, end, rest = line.split(",", 3)
        events.append(_Event(_ms(start), _ms(end), (layer, rest)))
    return header, events


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.00"


def _frame_times_ms(frames: int, fps: int) -> np.ndarray:
    """The time libass is asked to draw at for each frame, as ffmpeg's `subtitles` filter
    computes it (`pts · (1/fps) · 1000` in doubles, truncated to whole milliseconds)."""
    return (np.arange(frames, dtype=np.float64) * (1 / fps) * 1000).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Sprite:
    """One caption image: per plane the premultiplied colour and the transmission (255: the
    frame shows through) of its box, whose top-left luma corner is (`top`, `left`), even."""

    top: int
    left: int
    colour: Frame
    clear: Frame


def _sprite(over_black: Frame, over_white: Frame, row: int) -> Sprite | None:
    """The sprite of one caption image drawn over both backgrounds (a band of the frame from
    its row `row`); None if nothing shows."""
    corners = []  # each plane's drawn pixels' box, in chroma pixels: left, top, right, bottom
    for n, (black, white) in enumerate(zip(over_black, over_white, strict=True)):
        x, y, w, h = cv2.boundingRect(cv2.bitwise_or(black, cv2.bitwise_not(white)))
        if w:
            scale = 2 if n == 0 else 1
            corners.append((x // scale, y // scale, -(-(x + w) // scale), -(-(y + h) // scale)))
    if not corners:
        return None
    left, top = min(c[0] for c in corners), min(c[1] for c in corners)
    right, bottom = max(c[2] for c in corners), max(c[3] for c in corners)
    boxes = [(slice(top * 2, bottom * 2), slice(left * 2, right * 2))]
    boxes += [(slice(top, bottom), slice(left, right))] * 2
    colour = tuple(black[box].copy() for black, box in zip(over_black, boxes, strict=True))
    clear = tuple(
        cv2.subtract(white[box], black[box])
        for black, white, box in zip(over_black, over_white, boxes, strict=True)
    )
    return Sprite(row + top * 2, left * 2, colour, clear)  # type: ignore[arg-type]


class CaptionSprites:
    """The captions of a run of frames: which sprite each frame shows, blended on request."""

    def __init__(self, sprites: list[Sprite | None], shown: list[int]) -> None:
        self._sprites, self._shown = sprites, shown

    def planes(self, frame: Frame, k: int) -> list[memoryview]:
        """The bytes of frame `k` with its caption: only the rows of the caption's box are
        copied (the frame's own planes are left as they are)."""
        index = self._shown[k] if k < len(self._shown) else -1
        sprite = self._sprites[index] if index >= 0 else None
        if sprite is None:
            return [plane.data for plane in frame]
        out = []
        for n, (plane, colour, clear) in enumerate(
            zip(frame, sprite.colour, sprite.clear, strict=True)
        ):
            top, left = (sprite.top, sprite.left) if n == 0 else (sprite.top // 2, sprite.left // 2)
            bottom, right = top + colour.shape[0], left + colour.shape[1]
            band: Plane = plane[top:bottom].copy()
            seen = cv2.multiply(band[:, left:right], clear, scale=1 / 255)
            band[:, left:right] = cv2.add(seen, colour)
            out += [plane[:top].data, band.data, plane[bottom:].data]
        return out


def _draw(
    header: list[str],
    states: list[tuple[tuple[str, str], ...]],
    *,
    size: tuple[int, int],
    rows: tuple[int, int],
    fonts_dir: Path,
    work: Path,
    stage: str,
    timeout_s: float | None,
) -> list[Sprite | None] | None:
    """Each state's sprite, drawn on the band `rows` of the frame only; None if one reaches
    an edge of the band inside the frame (it may go on beyond)."""
    lines = list(header)
    for j, state in enumerate(states):  # state j over frames 2j (black) and 2j+1 (white)
        start, end = _clock(2 * j), _clock(2 * j + 2)
        lines += [f"{layer},{start},{end},{rest}" for layer, rest in state]
    ass = work / "sprites.ass"
    ass.write_text("\n".join(lines) + "\n", encoding="utf-8")
    width, height = size
    top, bottom = rows
    backgrounds = work / "backgrounds.yuv"
    frame_bytes = width * height * 3 // 2
    backgrounds.write_bytes(bytes(frame_bytes) + b"\xff" * frame_bytes)
    argv = caption_sprites_argv(
        ffmpeg.ffmpeg_exe(), backgrounds=backgrounds, size=size, rows=rows, subtitles=ass,
        fonts_dir=fonts_dir, frames=2 * len(states),
    )  # fmt: skip
    band = (width, bottom - top)
    reader = ffmpeg.FrameReader(argv, width * band[1] * 3 // 2, stage=stage, timeout_s=timeout_s)
    sprites: list[Sprite | None] = []
    try:
        for _ in states:
            over_black, over_white = reader.read(), reader.read()
            if over_black is None or over_white is None:
                raise RenderError(
                    f"ffmpeg drew {len(sprites)} of {len(states)} caption sprites", stage=stage
                )
            sprite = _sprite(yuv420_planes(over_black, band), yuv420_planes(over_white, band), top)
            if sprite is not None:
                end = sprite.top + sprite.colour[0].shape[0]
                if (sprite.top == top and top > 0) or (end == bottom and bottom < height):
                    return None
            sprites.append(sprite)
    finally:
        reader.close()
        ass.unlink(missing_ok=True)
        backgrounds.unlink(missing_ok=True)
    return sprites


def render(
    script: str,
    *,
    size: tuple[int, int],
    fps: int,
    frames: int,
    fonts_dir: Path,
    work: Path,
    stage: str,
    rows: tuple[int, int] | None = None,
    timeout_s: float | None = None,
) -> CaptionSprites:
    """The sprites of an ASS `script` over `frames` frames at `fps`: each distinct set of
    events showing at once drawn once, by libass in the bundled ffmpeg.

    Drawn on the band `rows` (even) of the frame if given: the frames ffmpeg hands over
    shrink to that band (most of the cost at 1080x1920). A caption reaching beyond it has
    all of them drawn again on whole frames.
    """
    header, events = _parse(script)
    now = _frame_times_ms(frames, fps)
    showing: list[list[int]] = [[] for _ in range(frames)]
    for n, event in enumerate(events):
        first, end = np.searchsorted(now, [event.start_ms, event.end_ms], side="left")
        for k in range(int(first), int(end)):
            showing[k].append(n)
    states: dict[tuple[tuple[str, str], ...], int] = {}
    shown = []
    for active in showing:
        if not active:
            shown.append(-1)
            continue
        state = tuple(events[n].fields for n in active)
        shown.append(states.setdefault(state, len(states)))
    if not states:
        return CaptionSprites([], shown)
    draw = functools.partial(
        _draw, header, list(states), size=size, fonts_dir=fonts_dir, work=work, stage=stage,
        timeout_s=timeout_s,
    )  # fmt: skip
    sprites = draw(rows=rows) if rows is not None else None
    if sprites is None:
        sprites = draw(rows=(0, size[1]))
    assert sprites is not None  # whole frames have no edge inside
    return CaptionSprites(sprites, shown)
