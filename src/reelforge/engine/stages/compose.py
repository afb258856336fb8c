"""Compose: encode the scene segments (one x264 per run of missing segments) while the audio
is mixed, then join.

A scene's fade-in segment depends on the scene, the motion of the scene before it and its
captions; the rest of the scene only on the scene itself and its captions: exactly what
each segment's cache key holds. One encoder at a time: x264's own threads already use
both cores, frames are made in this process alongside it, and memory stays one encoder's.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from reelforge.assets import font_path
from reelforge.engine import captions as cap
from reelforge.engine import checks
from reelforge.engine.cache import artifact_key, file_digest
from reelforge.engine.captions import Cue
from reelforge.engine.compile import RECIPE_VERSION, Encoder, Overlay
from reelforge.engine.compose import (
    Part,
    SceneFrames,
    encode_run,
    mix_audio,
    mux,
    part_frames,
    place_narration,
    split_parts,
)
from reelforge.engine.context import RenderContext
from reelforge.engine.frames import Frame, FrameSource
from reelforge.engine.sprites import render as render_sprites
from reelforge.engine.stages.music import MusicBed
from reelforge.engine.stages.visuals import Visual
from reelforge.engine.timeline import Timeline
from reelforge.errors import RenderError
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import Speech

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


def _runs(indexes: list[int]) -> list[list[int]]:
    """Consecutive indexes grouped: each group is one encoder's run."""
    runs: list[list[int]] = []
    for index in indexes:
        if runs and runs[-1][-1] + 1 == index:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


class _Segments:
    def __init__(
        self,
        ctx: RenderContext,
        settings: VideoSettings,
        timeline: Timeline,
        visuals: list[Visual],
        captions: list[list[Cue]],
        encoder: Encoder,
    ) -> None:
        self.ctx, self.settings, self.timeline = ctx, settings, timeline
        self.visuals, self.captions, self.encoder = visuals, captions, encoder
        self.parts = split_parts(timeline)
        self.scenes_reused = 0
        """Scenes none of whose segments had to be encoded (set by `fetch_all`)."""
        self.ass = [
            cap.to_ass(cues, settings.captions, settings.aspect, settings.size, shift_s=0.0)
            if settings.captions.enabled else ""
            for cues in captions
        ]  # fmt: skip
        self.progress = _FrameCounter(ctx, timeline.total_frames, settings.fps)
        self.overlay = watermark_overlay(settings)
        self.watermark = None  # in the key only when set, so other keys stay as they were
        if self.overlay is not None:
            self.watermark = {"sha256": file_digest(self.overlay.path)} | {
                "corner": self.overlay.corner, "width": self.overlay.width_px,
                "margin": self.overlay.margin_px, "opacity": self.overlay.opacity,
            }  # fmt: skip

    def key(self, part: Part) -> str:
        index = part.scene
        slot, settings = self.timeline.slots[index], self.settings
        previous = None
        if index > 0 and part.start < slot.fade_in_frames:
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
             "part": [part.start, part.end], "fade_in": slot.fade_in_frames,
             "span": _span(self.timeline, index), "previous": previous,
             "last": index + 1 == len(self.timeline.slots), "ass": self.ass[index],
             "encoder": asdict(self.encoder)},
        )  # fmt: skip

    def _source(self, index: int) -> FrameSource:
        return self.visuals[index].source(
            self.settings, index, _span(self.timeline, index), self.ctx.watchdog
        )

    def _frames(self, run: list[Part], loader: ThreadPoolExecutor) -> Iterator[Frame]:
        """The run's frames; each scene's source is prepared (still decoded, colour-converted)
        on `loader` while the scene before it is still being made."""
        slots, settings = self.timeline.slots, self.settings
        needed = sorted({p.scene for p in run} | {p.scene - 1 for p in run if p.start == 0
                                                   and slots[p.scene].fade_in_frames})  # fmt: skip
        sources: dict[int, Future[FrameSource]] = {}
        ahead = iter(needed)  # each source is prepared once, in order
        upcoming = next(ahead, None)
        for part in run:
            for done in [i for i in sources if i < part.scene - 1]:
                del sources[done]
            while upcoming is not None and upcoming <= part.scene + 1:  # one scene ahead
                sources[upcoming] = loader.submit(self._source, upcoming)
                upcoming = next(ahead, None)
            index = part.scene
            previous = None
            if index > 0 and part.start < slots[index].fade_in_frames:
                previous = sources[index - 1].result()
            scene = SceneFrames(
                slot=slots[index], source=sources[index].result(), previous=previous,
                previous_frames=slots[index - 1].frames if index > 0 else 0,
                first=index == 0, last=index + 1 == len(slots),
            )  # fmt: skip
            yield from part_frames(part, scene, size=settings.size, fps=settings.fps)

    def _encode(self, run: list[Part], keys: list[str]) -> list[Path]:
        """Encode `run` with one ffmpeg; returns the segments' cache folders."""
        settings, slots = self.settings, self.timeline.slots
        run_start = slots[run[0].scene].start_frame + run[0].start
        cuts, at = [], 0
        for part in run[:-1]:
            at += part.frames
            cuts.append(at)
        total = at + run[-1].frames
        folder = self.ctx.cache.root / "tmp" / f"run.{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        try:
            sprites = None
            if settings.captions.enabled:
                scenes = sorted({p.scene for p in run})
                script = cap.run_ass(
                    [(self.captions[i], slots[i].start_frame - run_start) for i in scenes],
                    settings.captions, settings.aspect, settings.size, settings.fps,
                )  # fmt: skip
                sprites = render_sprites(
                    script, size=settings.size, fps=settings.fps, frames=total,
                    fonts_dir=font_path(bold=True).parent, work=folder, stage="compose",
                    rows=cap.caption_rows(
                        cap.layout(settings.captions, settings.aspect, settings.size),
                        settings.size[1],
                    ),
                    timeout_s=self.ctx.watchdog.timeout_s(total / settings.fps),
                )  # fmt: skip
            step = settings.fps
            with ThreadPoolExecutor(max_workers=1) as loader:
                files, log = encode_run(
                    self._frames(run, loader), cuts, total=total, size=settings.size,
                    fps=settings.fps, encoder=self.encoder, out_dir=folder, captions=sprites,
                    on_frame=lambda k: self.progress.add(step) if (k + 1) % step == 0 else None,
                    watchdog=self.ctx.watchdog, overlay=self.overlay,
                    detect=checks.PIECE_DETECTORS,
                )  # fmt: skip
            self.progress.add(total % step)
            found = checks.picture_spans(log)
            published, at = [], 0
            for key, file, part in zip(keys, files, run, strict=True):
                within = _clip(found, at / settings.fps, (at + part.frames) / settings.fps)
                at += part.frames
                build = functools.partial(_publish, file, within)
                published.append(self.ctx.cache.fetch("segment", key, build))
            return published
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def fetch_all(self) -> tuple[list[Path], Spans | None]:
        """Every segment's file (cached ones as they are, the rest encoded run by run), and
        the black and frozen spans of the whole video, measured as its segments were encoded
        (None if a segment lacks them)."""
        keys = [self.key(part) for part in self.parts]
        cache = self.ctx.cache
        missing = [i for i, key in enumerate(keys) if not cache.has("segment", key)]
        self.scenes_reused = len(self.timeline.slots) - len({self.parts[i].scene for i in missing})
        found: dict[int, Path] = {}
        for run in _runs(missing):
            encoded = self._encode([self.parts[i] for i in run], [keys[i] for i in run])
            found.update(zip(run, encoded, strict=True))
        for i, key in enumerate(keys):
            if i not in found:
                found[i] = cache.fetch("segment", key, _never_built)
                self.progress.add(self.parts[i].frames)
        folders = [found[i] for i in range(len(keys))]
        pieces = []
        for part, folder in zip(self.parts, folders, strict=True):
            spans = folder / PICTURE_FILE
            if not spans.is_file():
                return [f / "segment.mp4" for f in folders], None
            start_s = (self.timeline.slots[part.scene].start_frame + part.start) / self.settings.fps
            loaded = json.loads(spans.read_text(encoding="utf-8"))
            pieces.append((start_s, {k: [(a, b) for a, b in v] for k, v in loaded.items()}))
        gap_s = checks.PIECE_FREEZE_MIN_S + 1.5 / self.settings.fps
        joined = checks.join_picture_spans(pieces, gap_s=gap_s)
        return [f / "segment.mp4" for f in folders], joined


@dataclass(frozen=True, slots=True)
class Composed:
    video: Path
    picture: Spans | None
    """Its black and frozen spans, measured on its frames as they were encoded (for the
    output checks; None if they could not be gathered)."""
    scenes_reused: int
    """Scenes whose every segment came from the cache (what an edit did not touch)."""
    sound: Future[checks.Sound]
    """The sound of the audio joined in, as the output checks measure it (being measured
    while the join and the other checks run)."""


PICTURE_FILE = "picture.json"
"""A segment's black and frozen spans, from the start of the segment."""
Spans = dict[str, list[tuple[float, float]]]


def _clip(found: Spans, start_s: float, end_s: float) -> Spans:
    """The spans inside [start_s, end_s), from start_s (an open span ends at end_s)."""
    return {
        kind: [(max(a, start_s) - start_s, min(b, end_s) - start_s)
               for a, b in spans if a < end_s and b > start_s]
        for kind, spans in found.items()
    }  # fmt: skip


def _publish(segment: Path, spans: Spans, out: Path) -> None:
    segment.replace(out / "segment.mp4")
    (out / PICTURE_FILE).write_text(json.dumps(spans), encoding="utf-8")


def _never_built(out: Path) -> None:
    raise RenderError("a cached segment vanished while the render ran", stage="compose")


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


def _sound(ctx: RenderContext, audio: Path, duration_s: float) -> checks.Sound:
    """The mix's sound as the output checks measure it, cached by the mix's bytes: measured
    on the audio thread while the video is still encoded or joined, so the checks need not
    decode the joined file."""
    key = artifact_key("sound", checks.SOUND_FILTERS, {"audio": file_digest(audio)})

    def build(out: Path) -> None:
        sound = checks.measure_sound(audio, ctx.watchdog, duration_s)
        (out / "sound.json").write_text(json.dumps(asdict(sound)), encoding="utf-8")

    folder = ctx.cache.fetch("sound", key, build)
    return checks.Sound(**json.loads((folder / "sound.json").read_text(encoding="utf-8")))


def compose_video(
    ctx: RenderContext,
    settings: VideoSettings,
    timeline: Timeline,
    visuals: list[Visual],
    voices: list[tuple[str, Speech]],
    captions: list[list[Cue]],
    music: Future[MusicBed],
    encoder: Encoder,
    work: Path,
    audio_thread: Executor,
) -> Composed:
    """Encode (or reuse) every segment while the audio is mixed on `audio_thread` (once
    `music`, made there first, is ready), then join them into `work/final.mp4`. The mix's
    sound is measured for the checks on `audio_thread` after the mix, meanwhile.
    `captions` are each scene's cues, timed from the scene's start."""
    segments = _Segments(ctx, settings, timeline, visuals, captions, encoder)
    audio = audio_thread.submit(
        lambda: _audio(ctx, settings, timeline, voices, music.result(), encoder, work)
    )
    sound = audio_thread.submit(lambda: _sound(ctx, audio.result(), timeline.duration_s))
    parts, picture = segments.fetch_all()
    audio_path = audio.result()
    ctx.on_progress("compose", 1 - MUX_SHARE, "joining segments")
    final = work / "final.mp4"
    mux(parts, audio_path, timeline, work, final, ctx.watchdog)
    return Composed(final, picture, segments.scenes_reused, sound)
