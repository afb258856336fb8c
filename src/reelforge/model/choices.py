"""The closed sets of values a video setting takes. Plain enums with no dependencies, so the
CLI can name them in its help without loading pydantic; `storyboard.py` re-exports them."""

from __future__ import annotations

from enum import StrEnum


class Aspect(StrEnum):
    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"
    SQUARE = "1:1"


class Resolution(StrEnum):
    SD = "480p"
    HD = "720p"
    FHD = "1080p"


class CaptionPosition(StrEnum):
    BOTTOM = "bottom"
    CENTER = "center"
    TOP = "top"


class CaptionStyle(StrEnum):
    OUTLINE = "outline"
    BOX = "box"
    WORD_HIGHLIGHT = "word_highlight"


class MusicMood(StrEnum):
    CALM = "calm"
    UPBEAT = "upbeat"
    DRAMATIC = "dramatic"
    DREAMY = "dreamy"


class VisualStyle(StrEnum):
    MODERN = "modern"
    WARM = "warm"
    OCEAN = "ocean"
    NOIR = "noir"
    PASTEL = "pastel"


class Transition(StrEnum):
    FADE = "fade"
    CUT = "cut"


class VisualKind(StrEnum):
    GENERATED = "generated"
    """Procedural (offline) or a configured image generator, from prompt/keywords."""
    FILE = "file"
    """A local image or video file."""
    STOCK = "stock"
    COLOR = "color"


class Corner(StrEnum):
    """Where a watermark sits."""

    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"
