"""Composition: encode scene segments, mix the audio, join everything into the final MP4.

Each scene is one or two H.264 segments (its fade-in, then the rest): re-encoded only when
what they show changes. Runs of segments to encode go through one x264 process each, cut
into per-segment files at IDR frames; the final step joins the segments without
re-encoding and adds the loudness-normalised audio.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from reelforge.engine import ffmpeg
from reelforge.engine.compile import (
    Encoder,
    Overlay,
    audio_mix_argv,
    loudness_argv,
    mux_argv,
    segment_argv,
)
from reelforge.engine.frames import Frame, FrameSource, black_frame, blend
from reelforge.engine.sprites import CaptionSprites
from reelforge.engine.timeline import FADE_FROM_BLACK_S, FADE_TO_BLACK_S, SceneSlot, Timeline
from reelforge.errors import RenderError


@dataclass(frozen=True, slots=True)
class Part:
    """Frames [start, end) of scene `scene`: one segment of the video.

    A scene that fades in from the previous one is two segments, the fade and the rest,
    so a change to one scene re-encodes that scene and the two fades it takes part in,
    never the whole of its neighbour.
    """

    scene: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


def split_parts(timeline: Timeline) -> list[Part]:
    """The video's segments, in order: each scene's fade-in (if any), then the rest of it."""
    parts = []
    for slot in timeline.slots:
        if slot.fade_in_frames:
            parts.append(Part(slot.index, 0, slot.fade_in_frames))
        parts.append(Part(slot.index, slot.fade_in_frames, slot.frames))
    return parts


@dataclass(frozen=True, slots=True)
class SceneFrames:
    """What a scene's pixels depend on: its frames, and the scene it fades in from."""

    slot: SceneSlot
    source: FrameSource
    previous: FrameSource | None
    previous_frames: int
    """Frames the previous scene already showed: its continuation starts there."""
    first: bool
    last: bool


def part_frames(
    part: Part, scene: SceneFrames, *, size: tuple[int, int], fps: int
) -> Iterator[Frame]:
    """The frames of `part`, with the fade from the previous scene and from/to black."""
    slot = scene.slot
    fade_in = slot.fade_in_frames if scene.previous is not None else 0
    from_black = round(FADE_FROM_BLACK_S * fps) if scene.first else 0
    to_black = min(round(FADE_TO_BLACK_S * fps), slot.frames) if scene.last else 0
    black = black_frame(size)
    previous: Iterator[Frame] = iter(())
    if scene.previous is not None and part.start < fade_in:
        count = min(part.end, fade_in) - part.start
        previous = scene.previous.frames(count, start=scene.previous_frames + part.start)
    for k, frame in enumerate(scene.source.frames(part.frames, start=part.start), part.start):
        if k < fade_in:
            frame = blend(next(previous), frame, (k + 1) / (fade_in + 1))
        if k < from_black:
            frame = blend(black, frame, (k + 1) / (from_black + 1))
        if k >= slot.frames - to_black:
            frame = blend(frame, black, (k - (slot.frames - to_black) + 1) / to_black)
        yield frame


def encode_run(
    frames: Iterator[Frame],
    cuts: list[int],
    *,
    total: int,
    size: tuple[int, int],
    fps: int,
    encoder: Encoder,
    out_dir: Path,
    captions: CaptionSprites | None = None,
    on_frame: Callable[[int], None] | None = None,
    watchdog: ffmpeg.Watchdog = ffmpeg.DEFAULT_WATCHDOG,
    overlay: Overlay | None = None,
    detect: str | None = None,
) -> tuple[list[Path], str]:
    """Stream `total` frames, with their `captions` blended in, into one ffmpeg that writes a
    segment file per part (cut before each frame in `cuts`); returns the segment files in
    order and ffmpeg's log (what the `detect` filters found)."""
    pattern = out_dir / "part%04d.mp4"
    argv = segment_argv(
        ffmpeg.ffmpeg_exe(), size=size, fps=fps, out_pattern=pattern, cuts=cuts,
        encoder=encoder, overlay=overlay, detect=detect,
    )  # fmt: skip
    timeout_s = watchdog.timeout_s(total / fps)
    with ffmpeg.FrameWriter(argv, stage="compose", cwd=out_dir, timeout_s=timeout_s) as writer:
        for k, frame in enumerate(frames):
            writer.write(*(captions.planes(frame, k) if captions else [p.data for p in frame]))
            if on_frame is not None:
                on_frame(k)
    files = [out_dir / f"part{j:04d}.mp4" for j in range(len(cuts) + 1)]
    if not all(f.is_file() for f in files):
        raise RenderError(f"ffmpeg wrote {len(list(out_dir.glob('part*.mp4')))} segments, "
                          f"expected {len(files)}", stage="compose")  # fmt: skip
    return files, writer.log


def _read_mono(path: Path) -> tuple[NDArray[np.int16], int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise RenderError(f"{path.name}: voice clips must be 16-bit mono", stage="compose")
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2"), wav.getframerate()


def place_narration(clips: list[tuple[Path, float]], duration_s: float, out: Path) -> None:
    """One mono narration track: each clip placed at its offset, sample-exact."""
    if not clips:
        raise RenderError("no narration to place", stage="compose")
    first, rate = _read_mono(clips[0][0])
    track = np.zeros(round(duration_s * rate), np.int16)
    for path, offset_s in clips:
        samples, clip_rate = (first, rate) if path == clips[0][0] else _read_mono(path)
        if clip_rate != rate:
            raise RenderError("voice clips have different sample rates", stage="compose")
        start = round(offset_s * rate)
        end = min(start + len(samples), len(track))
        track[start:end] = samples[: end - start]
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(track.tobytes())


def mix_audio(
    *,
    narration: Path,
    music: Path | None,
    music_volume: float,
    loop_music: bool,
    duration_s: float,
    encoder: Encoder,
    work: Path,
    out: Path,
    watchdog: ffmpeg.Watchdog = ffmpeg.DEFAULT_WATCHDOG,
) -> None:
    """Voice + ducked music, measured then normalised to -14 LUFS, encoded as AAC."""
    mix = work / "mix.wav"
    timeout_s = watchdog.timeout_s(duration_s)
    log = ffmpeg.run(
        audio_mix_argv(
            ffmpeg.ffmpeg_exe(),
            narration=narration,
            music=music,
            music_volume=music_volume,
            loop_music=loop_music,
            duration_s=duration_s,
            out=mix,
        ),
        stage="compose",
        timeout_s=timeout_s,
    )
    ffmpeg.run(
        loudness_argv(
            ffmpeg.ffmpeg_exe(),
            mix=mix,
            measured_lufs=ffmpeg.integrated_loudness(log),
            encoder=encoder,
            out=out,
        ),
        stage="compose",
        timeout_s=timeout_s,
    )
    mix.unlink(missing_ok=True)


def mux(
    segments: list[Path],
    audio: Path,
    timeline: Timeline,
    work: Path,
    out: Path,
    watchdog: ffmpeg.Watchdog = ffmpeg.DEFAULT_WATCHDOG,
) -> None:
    """Join segments (stream copy) and audio into `out`."""
    concat_list = work / "segments.txt"
    quoted = (str(p.resolve()).replace("'", "'\\''") for p in segments)
    concat_list.write_text("".join(f"file '{q}'\n" for q in quoted), encoding="utf-8")
    ffmpeg.run(
        mux_argv(
            ffmpeg.ffmpeg_exe(),
            concat_list=concat_list,
            audio=audio,
            fps=timeline.fps,
            duration_s=timeline.duration_s,
            out=out,
        ),
        stage="compose",
        timeout_s=watchdog.timeout_s(timeline.duration_s),
    )
