"""Where a composition's time goes: the x264 floor of its own frames, and each other part timed
alone (frame making, hand-off to ffmpeg, caption sprites, audio, join).

The floor is x264 at the engine's own preset and CRF encoding the very frames of the output and
nothing else: the output is decoded to raw yuv420p first (untimed), then x264 reads that file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from bench.measure import measure
from reelforge.assets import font_path
from reelforge.engine import captions as cap
from reelforge.engine import ffmpeg
from reelforge.engine.cache import ArtifactCache
from reelforge.engine.compile import BT709_TAGS, Encoder
from reelforge.engine.compose import mux
from reelforge.engine.context import RenderContext
from reelforge.engine.sprites import render as render_sprites
from reelforge.engine.stages import compose as stage
from reelforge.engine.stages.captions import scene_captions
from reelforge.engine.stages.music import music_bed
from reelforge.engine.stages.visuals import make_visual
from reelforge.engine.stages.voice import speak
from reelforge.engine.timeline import build_timeline
from reelforge.model.storyboard import Storyboard
from reelforge.providers.registry import Providers


@dataclass(frozen=True, slots=True)
class Timing:
    wall_s: float
    cpu_s: float
    """CPU seconds of this process and the ffmpeg it waited for."""
    other_cpu_pct: float = 0.0


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(call: Callable[[], object]) -> Timing:
    cpu = _cpu_s()
    measured = measure(call)
    return Timing(
        round(measured.wall_s, 3),
        round(_cpu_s() - cpu, 3),
        round(100 * measured.other_cpu_share, 1),
    )


def _ffmpeg(*args: str) -> None:
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    subprocess.run([*argv, "-y", *args], check=True, stdin=subprocess.DEVNULL)


def _raw_input(size: tuple[int, int], fps: int, raw: Path) -> list[str]:
    width, height = size
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps),
            *BT709_TAGS, "-i", str(raw)]  # fmt: skip


def x264_floor(
    video: Path, size: tuple[int, int], fps: int, encoder: Encoder, work: Path
) -> Timing:
    """x264 alone, at the engine's settings, on the decoded frames of `video`."""
    raw = work / "floor.yuv"
    _ffmpeg("-i", str(video), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "yuv420p", str(raw))
    try:
        out = work / "floor.mp4"
        args = [*_raw_input(size, fps, raw), *encoder.video_args(fps), "-an", str(out)]
        return timed(lambda: _ffmpeg(*args))
    finally:
        raw.unlink(missing_ok=True)


def profile_compose(
    storyboard: Storyboard, cache_dir: Path, work: Path, video: Path
) -> dict[str, Timing]:
    """Each part of the compose stage timed on its own, from a warm cache (nothing is published
    to the cache). `video` is the composed output, whose frames the overlay is timed on."""
    work.mkdir(parents=True, exist_ok=True)
    ctx = RenderContext(cache=ArtifactCache(cache_dir), providers=Providers.offline())
    settings, scenes = storyboard.settings, storyboard.scenes
    size, fps = settings.size, settings.fps
    visuals = [make_visual(ctx, scene, i, settings) for i, scene in enumerate(scenes)]
    voices = [speak(ctx, scene, settings) for scene in scenes]
    timeline = build_timeline(storyboard, [speech.duration_s for _, speech in voices])
    burned = [
        scene_captions(speech, slot, settings)
        for (_, speech), slot in zip(voices, timeline.slots, strict=True)
    ]
    segments = stage._Segments(ctx, settings, timeline, visuals, burned, Encoder())
    result: dict[str, Timing] = {}

    def sources() -> None:
        for i in range(len(scenes)):
            segments._source(i)

    def frames() -> None:
        with ThreadPoolExecutor(max_workers=1) as loader:
            for _ in segments._frames(segments.parts, loader):
                pass

    def handoff() -> None:
        width, height = size
        argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel",
                "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}",
                "-r", str(fps), "-i", "pipe:0", "-f", "null", "-"]  # fmt: skip
        with (
            ThreadPoolExecutor(max_workers=1) as loader,
            ffmpeg.FrameWriter(argv, stage="bench") as writer,
        ):
            for frame in segments._frames(segments.parts, loader):
                writer.write(*(plane.data for plane in frame))

    result["still decode, scale, colour conversion (once per scene)"] = timed(sources)
    result["frames: Ken Burns warps + fades, in Python"] = timed(frames)
    result["frames + hand-off to ffmpeg (pipe), no encoding"] = timed(handoff)

    raw = work / "frames.yuv"
    _ffmpeg("-i", str(video), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "yuv420p", str(raw))
    try:
        starts = [slot.start_frame for slot in timeline.slots]
        placed = list(zip(burned, starts, strict=True))
        script = cap.run_ass(placed, settings.captions, settings.aspect, size, fps)

        def overlay(captions: bool) -> None:
            sprites = None
            if captions:
                sprites = render_sprites(
                    script, size=size, fps=fps, frames=timeline.total_frames,
                    fonts_dir=font_path(bold=True).parent, work=work, stage="bench",
                    rows=cap.caption_rows(cap.layout(settings.captions, settings.aspect, size),
                                          size[1]),
                )  # fmt: skip
            width, height = size
            frame_bytes = width * height * 3 // 2
            with raw.open("rb") as frames:
                for k, data in enumerate(iter(lambda: frames.read(frame_bytes), b"")):
                    flat = np.frombuffer(data, np.uint8)
                    y = flat[: width * height].reshape(height, width)
                    u, v = flat[width * height :].reshape(2, height // 2, width // 2)
                    if sprites is not None:
                        sprites.planes((y, u, v), k)

        plain = timed(lambda: overlay(False))
        burnt = timed(lambda: overlay(True))
        result["caption sprites (libass once per image, blended), beyond reading raw frames"] = (
            Timing(
                round(burnt.wall_s - plain.wall_s, 3), round(burnt.cpu_s - plain.cpu_s, 3),
                max(plain.other_cpu_pct, burnt.other_cpu_pct),
            )
        )  # fmt: skip
    finally:
        raw.unlink(missing_ok=True)

    music = music_bed(ctx, settings, timeline.duration_s)
    audio_dir = work / "audio"

    def audio() -> None:
        audio_ctx = RenderContext(
            cache=ArtifactCache(audio_dir, refresh=frozenset({"audio"})),
            providers=ctx.providers,
        )
        stage._audio(audio_ctx, settings, timeline, voices, music, Encoder(), work)

    result["audio: narration placed, mixed, measured, normalised, AAC"] = timed(audio)
    parts, _ = segments.fetch_all()
    audio_file = next(audio_dir.rglob("audio.m4a"))
    joined = work / "joined.mp4"
    result["join: segments stream-copied with the audio (+faststart)"] = timed(
        lambda: mux(parts, audio_file, timeline, work, joined)
    )
    shutil.rmtree(audio_dir, ignore_errors=True)
    joined.unlink(missing_ok=True)
    return result
