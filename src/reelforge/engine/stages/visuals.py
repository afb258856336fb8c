"""Visuals: one still per scene (from the image provider or a user's image), or a user's clip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from reelforge.engine.cache import artifact_key, file_digest
from reelforge.engine.context import RenderContext
from reelforge.engine.frames import (
    ClipFrames,
    FrameSource,
    Motion,
    StillMotion,
    fill_crop,
    still_size,
)
from reelforge.engine.storyboard import Scene, VideoSettings, VisualKind
from reelforge.providers.registry import provider_id


@dataclass(frozen=True, slots=True)
class Visual:
    key: str
    """Cache key of the picture itself: segments that show it depend on it."""
    still: Path | None
    clip: Path | None

    def source(self, settings: VideoSettings, index: int, span: int) -> FrameSource:
        """Frames of this visual for scene `index`, with motion planned over `span` frames."""
        if self.clip is not None:
            return ClipFrames(self.clip, settings.size, settings.fps)
        assert self.still is not None
        motion = Motion.for_scene(settings.seed, index, span)
        return StillMotion(self.still, settings.size, motion)


def _is_image(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError):
        return False
    return True


def _from_file(ctx: RenderContext, path: Path, size: tuple[int, int]) -> Visual:
    digest = file_digest(path)
    if not _is_image(path):
        return Visual(artifact_key("clip", "file", {"sha256": digest}), None, path)
    key = artifact_key("visuals", "file", {"sha256": digest, "size": size})

    def build(out: Path) -> None:
        with Image.open(path) as img:
            fill_crop(img.convert("RGB"), size).save(out / "still.png")

    return Visual(key, ctx.cache.fetch("visuals", key, build) / "still.png", None)


def make_visual(ctx: RenderContext, scene: Scene, index: int, settings: VideoSettings) -> Visual:
    """The scene's picture, from the cache when nothing it depends on changed."""
    size = still_size(settings.size)
    if scene.visual.kind is VisualKind.FILE and scene.visual.path is not None:
        return _from_file(ctx, scene.visual.path, size)
    images = ctx.providers.images
    depends = scene.model_dump(mode="json", include={"headline", "keywords", "visual", "narration"})
    key = artifact_key(
        "visuals",
        provider_id(images),
        {"scene": depends, "index": index, "style": settings.visual_style,
         "seed": settings.seed, "size": size},
    )  # fmt: skip

    def build(out: Path) -> None:
        images.render(scene, index, settings, size, out / "still.png")

    return Visual(key, ctx.cache.fetch("visuals", key, build) / "still.png", None)
