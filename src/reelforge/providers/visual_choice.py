"""Choices shared by the stock and generated visual sources: what to search for, which
orientation to ask for, which result to take and which rendition of it to download
(all pure), and where the download lands.

Every choice is a function of its inputs only (query, seed, scene index, frame size), so a
re-render of the same storyboard picks the same clip and the artifact cache stays valid.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TypeVar

from PIL import Image, UnidentifiedImageError

from reelforge.model.storyboard import Aspect, Scene

MAX_QUERY_CHARS = 100
"""Pixabay rejects longer `q` values; Pexels results get worse long before that."""
TOP_N = 5
"""A scene's result is drawn from this many best-ranked hits (variety without junk)."""
FULL_HD_PIXELS = 1920 * 1080
HEADROOM = 1.5
"""Renditions above `HEADROOM` × max(full HD, frame) pixels are wasted bandwidth: a 4K clip
for a 720p frame. A 1880×1253 photo for a 720p still is fine."""
_QUERY_WORDS = 6

T = TypeVar("T")

_PEXELS_ORIENTATION = {Aspect.LANDSCAPE: "landscape", Aspect.PORTRAIT: "portrait"}
_PIXABAY_ORIENTATION = {Aspect.LANDSCAPE: "horizontal", Aspect.PORTRAIT: "vertical"}


@dataclass(frozen=True, slots=True)
class Rendition:
    """One downloadable size of a photo or clip."""

    url: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def covers(self, size: tuple[int, int]) -> bool:
        """True if filling a frame of `size` from it needs no upscaling."""
        return self.width >= size[0] and self.height >= size[1]


def as_int(value: object) -> int:
    """A vendor's numeric field as an int; 0 when missing or not a number."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def is_image(content: bytes) -> bool:
    """Whether Pillow can read `content` as an image (a vendor may send an error page)."""
    try:
        with Image.open(BytesIO(content)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError):
        return False
    return True


def pexels_orientation(aspect: Aspect) -> str:
    return _PEXELS_ORIENTATION.get(aspect, "square")


def pixabay_orientation(aspect: Aspect) -> str:
    """Pixabay knows no square: any orientation crops equally well to 1:1."""
    return _PIXABAY_ORIENTATION.get(aspect, "all")


def is_portrait(width: int, height: int) -> bool:
    return height > width


def matches_aspect(width: int, height: int, aspect: Aspect) -> bool:
    """Whether a result's shape suits the frame (square frames take anything)."""
    if aspect is Aspect.SQUARE or width <= 0 or height <= 0:
        return True
    return is_portrait(width, height) == (aspect is Aspect.PORTRAIT)


def search_query(scene: Scene) -> str:
    """The scene's stock search: its explicit query, else keywords, headline or narration."""
    text = scene.visual.query.strip() or " ".join(k.strip() for k in scene.keywords if k.strip())
    if not text:
        text = scene.headline.strip()
    if not text:
        first = re.split(r"(?<=[.!?])\s", scene.narration, maxsplit=1)[0]
        text = " ".join(re.sub(r"[^\w\s'-]", " ", first).split()[:_QUERY_WORDS])
    text = " ".join(text.split())
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
    return text


def pick_index(query: str, seed: int, index: int, count: int, top_n: int = TOP_N) -> int:
    """A stable position among the first `min(count, top_n)` results for this scene.

    Hash-based rather than `random` so the choice never depends on interpreter state.
    Raises ValueError when `count` is not positive.
    """
    if count <= 0:
        raise ValueError("no results to pick from")
    digest = hashlib.sha256(f"{seed}:{index}:{query.casefold()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % min(count, top_n)


def best_rendition(renditions: Iterable[Rendition], size: tuple[int, int]) -> Rendition | None:
    """The smallest rendition that covers `size`, else the largest one.

    Renditions over the pixel budget (`HEADROOM` × max(full HD, frame)) are only used when
    every rendition is: then the smallest of them. Unknown sizes (0) are skipped.
    """
    known = [r for r in renditions if r.url and r.width > 0 and r.height > 0]
    if not known:
        return None
    budget = HEADROOM * max(FULL_HD_PIXELS, size[0] * size[1])
    pool = [r for r in known if r.pixels <= budget]
    if not pool:
        return min(known, key=lambda r: (r.pixels, r.url))
    covering = [r for r in pool if r.covers(size)]
    if covering:
        return min(covering, key=lambda r: (r.pixels, r.url))
    return max(pool, key=lambda r: (r.pixels, r.url))


def fit_within(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """`width`×`height` scaled down (never up) to fit a `box_w`×`box_h` box."""
    scale = min(1.0, box_w / width, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def prefer_aspect(
    hits: Sequence[T], shape: Callable[[T], tuple[int, int]], aspect: Aspect
) -> list[T]:
    """`hits` whose (width, height) suits the frame, in order; all of them if none does."""
    matching = [hit for hit in hits if matches_aspect(*shape(hit), aspect)]
    return matching or list(hits)


_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}


def file_suffix(content_type: str, url: str, default: str) -> str:
    """A file extension for downloaded media, from its content type, else its URL."""
    known = _EXTENSIONS.get(content_type.split(";")[0].strip().lower())
    if known:
        return known
    suffix = Path(url.split("?", 1)[0]).suffix.lower()
    return suffix if suffix in set(_EXTENSIONS.values()) | {".jpeg"} else default


def save_media(
    content: bytes, content_type: str, url: str, out_dir: Path, stem: str, default_suffix: str
) -> Path:
    """Write downloaded media to `out_dir/stem.<ext>` and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}{file_suffix(content_type, url, default_suffix)}"
    path.write_bytes(content)
    return path


def choose(
    hits: Sequence[T],
    *,
    shape: Callable[[T], tuple[int, int]],
    renditions: Callable[[T], Iterable[Rendition]],
    query: str,
    seed: int,
    index: int,
    aspect: Aspect,
    size: tuple[int, int],
) -> tuple[T, Rendition] | None:
    """The scene's hit and the rendition of it to download, or None if nothing is usable.

    Hits with a suitable shape and at least one usable rendition are kept in the vendor's
    ranking; the scene's stable pick among the top ones decides.
    """
    usable = [
        (hit, best)
        for hit in prefer_aspect(hits, shape, aspect)
        if (best := best_rendition(renditions(hit), size)) is not None
    ]
    if not usable:
        return None
    return usable[pick_index(query, seed, index, len(usable))]
