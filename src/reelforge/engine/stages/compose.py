"""Compose: encode the scene segments (two at a time) while the audio is mixed, then join.

Segment *i* depends on scene *i*, the motion of scene *i-1* it fades in
from, its captions and the encoder: exactly what its cache key holds.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from reelforge.assets import font_path
from reelforge.engine.cache import artifact_key, file_digest
from reelforge.engine.compile import RECIPE_VERSION, Encoder, Overlay
from reelforge.engine.compose import SegmentPlan, mix_audio, mux, place_narration, render_segment
from reelforge.engine.context import RenderContext
from reelforge.engine.stages.music import MusicBed
from reelforge.engine.stages.visuals import Visual
from reelforge.engine.timeline import Timeline
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import Speech

PARALLEL_SEGMENTS = 2
"""Two encoders overlap one's frame making with the other's encoding on 2 cores."""
PARALLEL_MAX_PIXELS = 1280 * 720
"""Above this frame size one encoder at a time: each x264 at 1080p holds ~340 MiB."""


def parallel_segments(size: tuple[int, int]) -> int:
    return PARALLEL_SEGMENTS if size[0] * size[1] <= PARALLEL_MAX_PIXELS else 1


MUX_SHARE = 0.05
"""Part of the compose progress bar left for joining."""


class _FrameCounter:
    """Compose progress across segments encoded in parallel."""

    def __init__(self, ctx: RenderContext, total: int, every: int) -> None:
        self._ctx, self._total, self._every = ctx, total, every
        self._done = 0
        self._lock = threading.Lock()

    def add(self, frames: int) -> None:
        with self._lock:
            self._done += frames
            fraction = (1 - MUX_SHARE) * self._done / self._total
        self._ctx.on_progress("compose", fraction, f"{self._done}/{self._total} frames")


WATERMARK_MARGIN = 0.03
"""The logo's distance from its corner, as a fraction of the frame's shorter side."""


def watermark_overlay(settings: VideoSettings) -> Overlay | None:
    """The settings' watermark in pixels, once the worker (or a local user) gave its file."""
    mark = settings.watermark
    if mark is None or mark.file is None:
        return None
    width, height = settings.size
    return Overlay(
        mark.file, str(mark.position), width_px=max(2, round(width * mark.size / 2) * 2),
        margin_px=round(min(width, height) * WATERMARK_MARGIN), opacity=mark.opacity,
    )  # fmt: skip


def _span(timeline: Timeline, index: int) -> int:
    """Frames scene `index` must provide: its own plus the fade into the next scene."""
    slots = timeline.slots
    following = slots[index + 1].fade_in_frames if index + 1 < len(slots) else 0
    return slots[index].frames + following


class _Segments:
    def __init__(
        self,
        ctx: RenderContext,
        settings: VideoSettings,
        timeline: Timeline,
        visuals: list[Visual],
        encoder: Encoder,
    ) -> None:
        self.ctx, self.settings, self.timeline = ctx, settings, timeline
        self.visuals, self.encoder = visuals, encoder
        self.progress = _FrameCounter(ctx, timeline.total_frames, settings.fps)
        self.overlay = watermark_overlay(settings)
        self.watermark = None  # in the key only when set, so other keys stay as they were
        if self.overlay is not None:
            self.watermark = {"sha256": file_digest(self.overlay.path)} | {
                "corner": self.overlay.corner, "width": self.overlay.width_px,
                "margin": self.overlay.margin_px, "opacity": self.overlay.opacity,
            }  # fmt: skip

    def key(self, index: int, ass: str) -> str:
        slot, settings = self.timeline.slots[index], self.settings
        previous = None
        if index > 0 and slot.fade_in_frames:
            previous = {
                "visual": self.visuals[index - 1].key,
                "frames": self.timeline.slots[index - 1].frames,
                "span": _span(self.timeline, index - 1),
            }
        marked = {"watermark": self.watermark} if self.watermark else {}
        return artifact_key(
            "segment",
            f"frames+x264@{RECIPE_VERSION}",
            marked | {"visual": self.visuals[index].key, "index": index, "seed": settings.seed,
             "size": settings.size, "fps": settings.fps, "frames": slot.frames,
             "fade_in": slot.fade_in_frames, "span": _span(self.timeline, index),
             "previous": previous, "last": index + 1 == len(self.timeline.slots), "ass": ass,
             "encoder": asdict(self.encoder)},
        )  # fmt: skip

    def build(self, index: int, ass: str, out: Path) -> None:
        slots, settings = self.timeline.slots, self.settings
        subtitles = None
        if ass:
            subtitles = out / "captions.ass"
            subtitles.write_text(ass, encoding="utf-8")
        previous = None
        if index > 0:
            previous = self.visuals[index - 1].source(
                settings, index - 1, _span(self.timeline, index - 1), self.ctx.watchdog
            )
        plan = SegmentPlan(
            slot=slots[index],
            source=self.visuals[index].source(
                settings, index, _span(self.timeline, index), self.ctx.watchdog
            ),
            previous=previous,
            previous_frames=slots[index - 1].frames if index > 0 else 0,
            first=index == 0,
            last=index + 1 == len(slots),
        )
        step = settings.fps
        render_segment(
            plan, size=settings.size, fps=settings.fps, encoder=self.encoder,
            out=out / "segment.mp4", subtitles=subtitles, fonts_dir=font_path(bold=True).parent,
            on_frame=lambda k: self.progress.add(step) if (k + 1) % step == 0 else None,
            watchdog=self.ctx.watchdog, overlay=self.overlay,
        )  # fmt: skip
        self.progress.add(slots[index].frames % step)

    def fetch(self, index: int, ass: str) -> Path:
        key = self.key(index, ass)
        folder = self.ctx.cache.fetch("segment", key, lambda out: self.build(index, ass, out))
        return folder / "segment.mp4"


def _audio(
    ctx: RenderContext,
    settings: VideoSettings,
    timeline: Timeline,
    voices: list[tuple[str, Speech]],
    music: MusicBed,
    encoder: Encoder,
    work: Path,
) -> Path:
    offsets = [slot.voice_offset_s for slot in timeline.slots]
    key = artifact_key(
        "audio",
        f"ffmpeg@{RECIPE_VERSION}",
        {"voices": [k for k, _ in voices], "offsets": offsets, "music": music.key,
         "volume": settings.music.volume, "duration": timeline.duration_s,
         "encoder": asdict(encoder)},
    )  # fmt: skip

    def build(out: Path) -> None:
        narration = work / "narration.wav"
        clips = [(speech.path, offset) for (_, speech), offset in zip(voices, offsets, strict=True)]
        place_narration(clips, timeline.duration_s, narration)
        mix_audio(
            narration=narration, music=music.path, music_volume=settings.music.volume,
            loop_music=music.loop, duration_s=timeline.duration_s, encoder=encoder, work=work,
            out=out / "audio.m4a", watchdog=ctx.watchdog,
        )  # fmt: skip

    return ctx.cache.fetch("audio", key, build) / "audio.m4a"


def compose_video(
    ctx: RenderContext,
    settings: VideoSettings,
    timeline: Timeline,
    visuals: list[Visual],
    voices: list[tuple[str, Speech]],
    ass_scripts: list[str],
    music: MusicBed,
    encoder: Encoder,
    work: Path,
) -> Path:
    """Encode (or reuse) every segment and the audio, then join them into `work/final.mp4`."""
    segments = _Segments(ctx, settings, timeline, visuals, encoder)
    with (
        ThreadPoolExecutor(max_workers=1) as mixer,
        ThreadPoolExecutor(max_workers=parallel_segments(settings.size)) as encoders,
    ):
        audio: Future[Path] = mixer.submit(
            _audio, ctx, settings, timeline, voices, music, encoder, work
        )
        parts = list(encoders.map(segments.fetch, range(len(ass_scripts)), ass_scripts))
        audio_path = audio.result()
    ctx.on_progress("compose", 1 - MUX_SHARE, "joining segments")
    final = work / "final.mp4"
    mux(parts, audio_path, timeline, work, final, ctx.watchdog)
    return final
