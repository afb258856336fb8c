"""Visuals: one still or clip per scene — a user's file, the first visual source in the
chain that has something (stock video, stock photo, generated image), else the offline
image provider. Whatever was chosen is cached with its credit, so a re-render calls no one.

A source that *fails* (bad key, provider down) raises: the job is retried later and
resumes from the cache, rather than silently caching a fallback picture forever.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from reelforge.engine.cache import artifact_key, file_digest
from reelforge.engine.context import RenderContext
from reelforge.engine.ffmpeg import DEFAULT_WATCHDOG, Watchdog
from reelforge.engine.frames import (
    ClipFrames,
    FrameSource,
    Motion,
    StillMotion,
    fill_crop,
    still_size,
)
from reelforge.model.storyboard import Scene, VideoSettings, VisualKind
from reelforge.providers.png import save_png
from reelforge.providers.registry import provider_id
from reelforge.providers.visual_chain import order_for

META = "meta.json"


@dataclass(frozen=True, slots=True)
class Visual:
    key: str
    """Cache key of the picture itself: segments that show it depend on it."""
    still: Path | None
    clip: Path | None
    credit: dict[str, Any] | None = None
    """Which source supplied it and the attribution it asks for (for the manifest)."""

    def source(
        self,
        settings: VideoSettings,
        index: int,
        span: int,
        watchdog: Watchdog = DEFAULT_WATCHDOG,
    ) -> FrameSource:
        """Frames of this visual for scene `index`, with motion planned over `span` frames
        (a clip is decoded by an ffmpeg under `watchdog`)."""
        if self.clip is not None:
            return ClipFrames(self.clip, settings.size, settings.fps, watchdog)
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
            save_png(fill_crop(img.convert("RGB"), size), out / "still.png")

    return Visual(key, ctx.cache.fetch("visuals", key, build) / "still.png", None)


def picture_fields(scene: Scene) -> set[str]:
    """The scene's fields its picture is made from. The narration only stands in for a
    blank headline (the procedural image's title, the stock search) or a blank visual
    prompt (the generated image's subject): with both set, an edit of the narration keeps
    the scene's still, and the segments made from it."""
    fields = {"headline", "keywords", "visual"}
    if not scene.headline.strip() or not scene.visual.prompt.strip():
        fields.add("narration")
    return fields


def make_visual(ctx: RenderContext, scene: Scene, index: int, settings: VideoSettings) -> Visual:
    """The scene's picture, from the cache when nothing it depends on changed."""
    size = still_size(settings.size)
    if scene.visual.kind is VisualKind.FILE and scene.visual.path is not None:
        return _from_file(ctx, scene.visual.path, size)
    sources = order_for(scene, ctx.providers.visuals)
    images = ctx.providers.images
    chain = "+".join([*(provider_id(source) for source in sources), provider_id(images)])
    depends = scene.model_dump(mode="json", include=picture_fields(scene))
    key = artifact_key(
        "visuals",
        chain,
        {"scene": depends, "index": index, "style": settings.visual_style,
         "seed": settings.seed, "size": size},
    )  # fmt: skip

    def build(out: Path) -> None:
        for source in sources:
            asset = source.find(scene, index, settings, size, out / "fetched")
            if asset is None:
                continue
            if asset.is_video:
                shutil.move(asset.path, out / "clip.mp4")
            else:
                with Image.open(asset.path) as img:
                    save_png(fill_crop(img.convert("RGB"), size), out / "still.png")
            credit: dict[str, Any] = {"source": source.id, "attribution": None}
            if asset.attribution is not None:
                credit["attribution"] = {
                    "source": asset.attribution.source, "author": asset.attribution.author,
                    "url": asset.attribution.url, "license": asset.attribution.license,
                }  # fmt: skip
            (out / META).write_text(json.dumps(credit), encoding="utf-8")
            shutil.rmtree(out / "fetched", ignore_errors=True)
            return
        images.render(scene, index, settings, size, out / "still.png")
        (out / META).write_text(json.dumps({"source": images.id, "attribution": None}))

    folder = ctx.cache.fetch("visuals", key, build)
    meta = folder / META
    credit = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else None
    if (folder / "clip.mp4").is_file():
        return Visual(key, None, folder / "clip.mp4", credit)
    return Visual(key, folder / "still.png", None, credit)
