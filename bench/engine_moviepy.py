"""The same video composed with MoviePy 2.x, written the fast way, as the engine's yardstick.

"Fast way" (see shared/notes/composition.md): stills are already 1.12x the frame,
so each frame is one sub-pixel resample of a centred window (Pillow `resize`
with a float `box`), not `resized(lambda t)` followed by a crop; the composite has
an opaque `bg_color`, so MoviePy pipes rgb24 and composes no global mask.

Run as its own process (`python -m bench.engine_moviepy job.json`, one JSON line
out) so its memory is measured apart from the engine's, and neither run inherits
the other's heap.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from moviepy import AudioFileClip, CompositeVideoClip, TextClip, VideoClip, vfx
from numpy.typing import NDArray
from PIL import Image

from bench.measure import measure
from reelforge.assets import font_path
from reelforge.engine.captions import layout
from reelforge.engine.compile import AUDIO_RATE_HZ, Encoder
from reelforge.engine.frames import MOTION_HEADROOM
from reelforge.engine.timeline import FADE_FROM_BLACK_S, FADE_S, FADE_TO_BLACK_S
from reelforge.model.storyboard import Storyboard, Transition

_SRT_TIME = re.compile(r"(\d+):(\d+):(\d+),(\d+)")


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class SceneTiming:
    """Where a scene sits in the video (from the engine's manifest)."""

    start_s: float
    end_s: float


def _srt_seconds(stamp: str) -> float:
    match = _SRT_TIME.fullmatch(stamp.strip())
    if match is None:
        raise ValueError(f"bad SRT time {stamp!r}")
    hours, minutes, secs, millis = (int(g) for g in match.groups())
    return hours * 3600 + minutes * 60 + secs + millis / 1000


def parse_srt(text: str) -> list[Cue]:
    """The cues of an SRT file (index line, `start --> end` line, then text lines)."""
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.strip().splitlines()
        start, end = lines[1].split("-->")
        cues.append(Cue(_srt_seconds(start), _srt_seconds(end), " ".join(lines[2:])))
    return cues


def ken_burns(still: Path, size: tuple[int, int], duration_s: float, zoom_in: bool) -> VideoClip:
    """A centred zoom 1.0 ↔ 1.12 over a pre-scaled still: one bilinear resample per frame."""
    with Image.open(still) as img:
        image = img.convert("RGB")
    width, height = image.size

    def frame(t: float) -> NDArray[np.uint8]:
        progress = min(max(t / duration_s, 0.0), 1.0)
        zoom = 1.0 + (MOTION_HEADROOM - 1.0) * (progress if zoom_in else 1.0 - progress)
        half_w, half_h = width / zoom / 2, height / zoom / 2
        box = (width / 2 - half_w, height / 2 - half_h, width / 2 + half_w, height / 2 + half_h)
        return np.asarray(image.resize(size, Image.Resampling.BILINEAR, box=box))

    return VideoClip(frame, duration=duration_s)


def scene_clips(
    stills: Sequence[Path], timings: Sequence[SceneTiming], storyboard: Storyboard
) -> list[VideoClip]:
    """One clip per scene, overlapping the next by its cross-fade, faded from/to black."""
    size, scenes = storyboard.settings.size, storyboard.scenes
    clips = []
    for i, (still, slot) in enumerate(zip(stills, timings, strict=True)):
        fades_in = i > 0 and scenes[i].transition is Transition.FADE
        next_fades = i + 1 < len(scenes) and scenes[i + 1].transition is Transition.FADE
        duration = slot.end_s - slot.start_s + (FADE_S if next_fades else 0.0)
        effects: list[Any] = [vfx.CrossFadeIn(FADE_S)] if fades_in else []
        if i == 0:
            effects.append(vfx.FadeIn(FADE_FROM_BLACK_S))
        if i + 1 == len(scenes):
            effects.append(vfx.FadeOut(FADE_TO_BLACK_S))
        clip = ken_burns(still, size, duration, zoom_in=i % 2 == 0).with_start(slot.start_s)
        clips.append(clip.with_effects(effects))
    return clips


def caption_clips(cues: Sequence[Cue], storyboard: Storyboard) -> list[TextClip]:
    """White bold captions with a black outline, bottom-centred like the engine's libass ones."""
    settings = storyboard.settings
    width, height = settings.size
    box = layout(settings.captions, settings.aspect, settings.size)
    clips = []
    for cue in cues:
        text = TextClip(
            font=str(font_path(bold=True)),
            text=cue.text,
            font_size=box.font_px,
            color="white",
            stroke_color="black",
            stroke_width=max(2, box.font_px // 14),
            method="caption",
            size=(width - 2 * box.margin_h_px, None),
            text_align="center",
            duration=cue.end_s - cue.start_s,
        )
        top = height - box.margin_v_px - text.h
        clips.append(text.with_start(cue.start_s).with_position(("center", top)))
    return clips


def build(
    stills: Sequence[Path],
    timings: Sequence[SceneTiming],
    storyboard: Storyboard,
    srt: Path,
    audio_wav: Path,
) -> CompositeVideoClip:
    """The whole video as one MoviePy composite (scenes, then captions on top, then audio)."""
    cues = parse_srt(srt.read_text(encoding="utf-8"))
    layers = [*scene_clips(stills, timings, storyboard), *caption_clips(cues, storyboard)]
    video = CompositeVideoClip(layers, size=storyboard.settings.size, bg_color=(0, 0, 0))
    return video.with_duration(timings[-1].end_s).with_audio(AudioFileClip(str(audio_wav)))


def write(video: CompositeVideoClip, out: Path, fps: int, temp_dir: Path) -> None:
    """Encode with the engine's settings: its x264 preset, options and CRF, AAC 160k 48 kHz."""
    encoder = Encoder()
    tuned = ("-x264-params", encoder.x264_params) if encoder.x264_params else ()
    video.write_videofile(
        str(out),
        fps=fps,
        codec="libx264",
        preset=encoder.preset,
        ffmpeg_params=[
            *tuned,
            *("-crf", str(encoder.crf), "-profile:v", "high", "-g", str(fps * 2)),
            *("-pix_fmt", "yuv420p", "-movflags", "+faststart"),
        ],
        audio_codec="aac",
        audio_bitrate=encoder.audio_bitrate,
        audio_fps=AUDIO_RATE_HZ,
        temp_audiofile_path=str(temp_dir),
        logger=None,
    )
    video.close()


@dataclass(frozen=True, slots=True)
class Job:
    """What to compose: the engine's manifest, stills and SRT, plus its mixed audio as WAV."""

    manifest: Path
    stills: tuple[Path, ...]
    srt: Path
    audio_wav: Path
    out: Path
    temp_dir: Path

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        stills = tuple(Path(p) for p in data.pop("stills"))
        return cls(stills=stills, **{k: Path(v) for k, v in data.items()})


def run(job: Job) -> dict[str, float]:
    """Build the clips, then write the file; time and memory of each part."""
    manifest = json.loads(job.manifest.read_text(encoding="utf-8"))
    storyboard = Storyboard.model_validate(manifest["storyboard"])
    timings = [SceneTiming(s["start_s"], s["end_s"]) for s in manifest["scenes"]]
    built = measure(lambda: build(job.stills, timings, storyboard, job.srt, job.audio_wav))
    fps = storyboard.settings.fps
    written = measure(lambda: write(built.value, job.out, fps, job.temp_dir))
    return {
        "build_s": built.wall_s,
        "write_s": written.wall_s,
        "peak_rss_bytes": max(built.peak_rss_bytes, written.peak_rss_bytes),
        "baseline_rss_bytes": built.baseline_rss_bytes,
        "other_cpu_share": written.other_cpu_share,
    }


if __name__ == "__main__":
    print(json.dumps(run(Job.from_json(Path(sys.argv[1]).read_text(encoding="utf-8")))))
