"""The storyboard: the single source of truth for one video.

It is what the planner produces, what the editor edits, what the renderer
consumes and what the manifest records, so it must round-trip through JSON
unchanged and validate every field at the edge.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelforge.errors import InvalidInput
from reelforge.model.choices import (
    Aspect,
    CaptionPosition,
    CaptionStyle,
    Corner,
    MusicMood,
    Resolution,
    Transition,
    VisualKind,
    VisualStyle,
)

__all__ = [
    "MAX_TARGET_DURATION_S",
    "MIN_TARGET_DURATION_S",
    "STORYBOARD_VERSION",
    "Aspect",
    "CaptionPosition",
    "CaptionStyle",
    "Captions",
    "Corner",
    "Music",
    "MusicMood",
    "Pacing",
    "Resolution",
    "Scene",
    "ScriptHints",
    "Storyboard",
    "TemplateStamp",
    "TitleCards",
    "Transition",
    "VideoSettings",
    "VisualKind",
    "VisualSpec",
    "VisualStyle",
    "Watermark",
    "describe_validation_error",
    "storyboard_json_schema",
]

STORYBOARD_VERSION: Literal[1] = 1
MIN_TARGET_DURATION_S = 10.0
MAX_TARGET_DURATION_S = 600.0

# Every string has a bound: a storyboard is stored, copied into each render and sent to
# providers, so nothing in it may grow without limit (200 KB voices were accepted).
Language = Annotated[str, Field(min_length=1, max_length=35)]
"""A BCP 47 tag (`en`, `pt-BR`); 35 characters hold any tag in use."""
VoiceName = Annotated[str, Field(min_length=1, max_length=200)]
TemplateId = Annotated[str, Field(max_length=100)]
Title = Annotated[str, Field(max_length=200)]
Keyword = Annotated[str, Field(max_length=100)]
MAX_SCENE_KEYWORDS = 20
MAX_NARRATION_CHARS = 5000
MAX_QUERY_CHARS = 500
MAX_HINT_CHARS = 300
HexColor = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
Hint = Annotated[str, Field(max_length=MAX_HINT_CHARS)]


_SHORT_SIDE_PX = {Resolution.SD: 480, Resolution.HD: 720, Resolution.FHD: 1080}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Pacing(_Model):
    """How the planner cuts narration into scenes (a template's rhythm)."""

    scene_s: Annotated[float, Field(ge=2.0, le=20.0)] = 5.5
    """Spoken seconds per scene the planner aims at: short scenes feel fast."""
    transition: Transition = Transition.FADE


class TitleCards(_Model):
    """Intro and outro cards the planner adds around the narration ('' for none)."""

    intro: Title = ""
    outro: Title = ""
    color: HexColor = "#101018"


class ScriptHints(_Model):
    """What a template asks of an LLM script: the shape of the story, not its content."""

    tone: Hint = ""
    hook: Hint = ""
    points: Hint = ""
    call_to_action: Hint = ""


class TemplateStamp(_Model):
    """The template (and its version) these settings were made from, for the manifest."""

    id: TemplateId
    name: Title
    version: Annotated[int, Field(ge=1)]


class Captions(_Model):
    enabled: bool = True
    position: CaptionPosition = CaptionPosition.BOTTOM
    size: Annotated[float, Field(ge=0.5, le=2.0)] = 1.0
    """Multiplier on the default caption height (which scales with the frame)."""
    style: CaptionStyle = CaptionStyle.WORD_HIGHLIGHT
    max_words_per_cue: Annotated[int, Field(ge=1, le=20)] = 7
    color: HexColor = "#FFFFFF"
    highlight_color: HexColor = "#FFD700"
    """The spoken word's colour in the `word_highlight` style."""
    bold: bool = True


class Music(_Model):
    enabled: bool = True
    mood: MusicMood = MusicMood.CALM
    volume: Annotated[float, Field(ge=0.0, le=1.0)] = 0.25
    """Music level relative to the voice before ducking (0 = silent, 1 = as loud)."""
    file: Path | None = None
    """A user-supplied audio file used instead of the synthesised bed."""
    asset_id: uuid.UUID | None = None
    """An uploaded song (API): the worker downloads it and sets `file`."""


class Watermark(_Model):
    """A logo drawn over every frame (an uploaded image over the API, a file locally)."""

    asset_id: uuid.UUID | None = None
    file: Path | None = None
    position: Corner = Corner.BOTTOM_RIGHT
    size: Annotated[float, Field(ge=0.05, le=0.5)] = 0.15
    """The logo's width as a fraction of the frame's."""
    opacity: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8

    @model_validator(mode="after")
    def _names_an_image(self) -> Watermark:
        if self.asset_id is None and self.file is None:
            raise ValueError("a watermark needs an asset_id (or a file)")
        return self


class VideoSettings(_Model):
    aspect: Aspect = Aspect.LANDSCAPE
    resolution: Resolution = Resolution.HD
    fps: Literal[24, 25, 30] = 30
    target_duration_s: Annotated[
        float, Field(ge=MIN_TARGET_DURATION_S, le=MAX_TARGET_DURATION_S)
    ] = 30.0
    language: Language = "en"
    voice: VoiceName = "joe"
    speaking_rate: Annotated[float, Field(ge=0.5, le=2.0)] = 1.0
    captions: Captions = Captions()
    music: Music = Music()
    visual_style: VisualStyle = VisualStyle.MODERN
    seed: Annotated[int, Field(ge=0)] = 7
    template_id: TemplateId | None = None
    pacing: Pacing = Pacing()
    cards: TitleCards = TitleCards()
    script: ScriptHints = ScriptHints()
    template: TemplateStamp | None = None
    watermark: Watermark | None = None

    def named_files(self) -> list[Path]:
        """Local files the settings name: the music and the watermark."""
        mark = self.watermark.file if self.watermark else None
        return [p for p in (self.music.file, mark) if p is not None]

    def asset_ids(self) -> list[uuid.UUID]:
        """Uploaded assets the settings use: the music and the watermark."""
        mark = self.watermark.asset_id if self.watermark else None
        return [a for a in (self.music.asset_id, mark) if a is not None]

    @property
    def size(self) -> tuple[int, int]:
        """Frame (width, height) in pixels, both even as H.264 yuv420p needs."""
        short = _SHORT_SIDE_PX[self.resolution]
        long = (short * 16 // 9 + 1) // 2 * 2
        if self.aspect is Aspect.LANDSCAPE:
            return long, short
        if self.aspect is Aspect.PORTRAIT:
            return short, long
        return short, short


class VisualSpec(_Model):
    kind: VisualKind = VisualKind.GENERATED
    prompt: Annotated[str, Field(max_length=MAX_NARRATION_CHARS)] = ""
    """The planner uses the scene's narration, so it may be as long."""
    path: Path | None = None
    asset_id: uuid.UUID | None = None
    """An uploaded image or clip (API, with kind `file`): the worker sets `path`."""
    query: Annotated[str, Field(max_length=MAX_QUERY_CHARS)] = ""
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")


class Scene(_Model):
    narration: Annotated[str, Field(min_length=1, max_length=MAX_NARRATION_CHARS)]
    headline: Title = ""
    keywords: Annotated[tuple[Keyword, ...], Field(max_length=MAX_SCENE_KEYWORDS)] = ()
    visual: VisualSpec = VisualSpec()
    duration_s: Annotated[float, Field(gt=0, le=MAX_TARGET_DURATION_S)] | Literal["auto"] = "auto"
    transition: Transition = Transition.FADE

    @field_validator("narration")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("narration must not be blank")
        return value.strip()


class Storyboard(_Model):
    version: Literal[1] = STORYBOARD_VERSION
    title: Title = ""
    settings: VideoSettings = VideoSettings()
    scenes: Annotated[tuple[Scene, ...], Field(min_length=1, max_length=200)]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> Storyboard:
        return cls.model_validate_json(text)

    @classmethod
    def load(cls, path: Path) -> Storyboard:
        """Read a storyboard file; every failure is an `InvalidInput` naming the file."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read storyboard {path}: {exc}") from exc
        try:
            return cls.from_json(text)
        except ValueError as exc:
            raise InvalidInput(
                f"storyboard {path} is not valid: {describe_validation_error(exc)}"
            ) from exc

    def named_files(self) -> list[Path]:
        """Local files the storyboard names: user images, clips and music."""
        named = [s.visual.path for s in self.scenes]
        named.extend(self.settings.named_files())
        return [p for p in named if p is not None]

    def asset_ids(self) -> list[uuid.UUID]:
        """Uploaded assets the storyboard uses: scene visuals, music and watermark."""
        used = [s.visual.asset_id for s in self.scenes if s.visual.asset_id is not None]
        return used + self.settings.asset_ids()

    def missing_files(self) -> list[Path]:
        """Local files the storyboard names that do not exist."""
        return [p for p in self.named_files() if not p.is_file()]


def storyboard_json_schema() -> str:
    return json.dumps(Storyboard.model_json_schema(), indent=2)


def describe_validation_error(exc: Exception) -> str:
    """One readable line from a pydantic error: `field.path: message; ...`."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    parts = []
    for err in errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "input"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)
