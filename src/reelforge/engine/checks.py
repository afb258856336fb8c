"""Output checks: every finished video is examined before anyone sees it, and a broken one
fails its render (stage `checks`, a system error naming the check) instead of reaching the
user. The picture (black and frozen stretches) and the sound (silences, loudness) are measured
by ffmpeg's detectors; PyAV reads the streams; the MP4's boxes show `+faststart`. Compose
measures both on what it makes, alongside the encoding: the picture segment by segment as
each is encoded, the sound on the mixed audio. The checks then decode neither, as long as the
delivered file's audio stream is the measured one, packet for packet (else they measure it).

The checks and what they hold the video to:

- `container`: H.264 video and AAC audio, the index (`moov`) before the media (`mdat`);
- `durations`: video as long as the timeline, audio as long as the video;
- `picture`: no black or frozen stretch longer than a transition where the video should move
  (solid-colour scenes and title cards are still by design, and exempt);
- `narration`: each scene's voice clip is not silent, nor is the mix where it speaks;
- `loudness`: integrated loudness and true peak on target;
- `captions`: every cue inside the video's time, the caption block inside the safe area, and,
  in a few sampled frames, the burned-in caption pixels inside the safe area too.

The caption pixels are found by difference, so that neither the caption's colour nor its style
matters: where one cue hands over to the next within a narration, a frame just before and one
just after differ in the caption (other words) and where the picture moves (Ken Burns motion
of a headline's edges). Two more frames, a little earlier and a little later, show where the
picture moves without the caption changing: what changed there is not counted. Each hand-over's
frames are decoded from the keyframe before them (one every 2 s), not by decoding the whole
video: an edit re-checks its video, and decoding all of it was most of the checks' time.
"""

from __future__ import annotations

import hashlib
import re
import wave
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelforge.engine.captions import CaptionLayout, Cue
from reelforge.engine.compile import LOUDNESS_TARGET_LUFS, TRUE_PEAK_LIMIT_DB
from reelforge.engine.ffmpeg import Watchdog, ffmpeg_exe, integrated_loudness, run
from reelforge.engine.timeline import FADE_S
from reelforge.errors import RenderError

Span = tuple[float, float]
Box = tuple[int, int, int, int]
"""left, top, right, bottom (inclusive pixel coordinates)."""
CHECKS = ("container", "durations", "picture", "narration", "loudness", "captions")
"""Every check, in the order they run and the manifest lists them."""

STILL_ALLOWED_S = FADE_S + 0.5
"""The longest black or frozen stretch allowed where the picture should move: a transition,
plus the fades from and to black at the ends."""
SILENCE_ALLOWED_S = 1.2
"""A pause inside narration longer than this is a dropout, not a breath."""
SILENT_CLIP_DBFS = -50.0
LOUDNESS_TOLERANCE_LU = 3.0
"""Wide: the true-peak limiter takes the loudest mixes (a user's own song) 1–2 LU under the
target; the check catches silence and runaway gain, not a quiet master."""
TRUE_PEAK_TOLERANCE_DB = 0.5
DURATION_TOLERANCE_S = 0.1
SAFE_AREA_SHARE = 0.05
"""Title-safe margin: captions stay inside the middle 90 % of each side."""
CAPTION_SAMPLES = 3
"""Cue hand-overs whose frames are compared."""
CAPTION_DIFF_LEVEL = 60
"""A pixel whose luma changed by more than this (0–255) across a hand-over is caption."""
CAPTION_MIN_RUN_PX = 4
"""A row or column with fewer changed pixels is noise (compression, motion), not caption."""
CAPTION_EDGE_TOLERANCE_PX = 2
MOTION_GAP_FRAMES = 3
"""How far before and after the hand-over the frames that show the picture's motion are."""
MOTION_GROW_PX = 2
_EVENT = re.compile(r"(black_start|black_end|silence_start|silence_end|freeze_start|freeze_end)"
                    r"[:=]\s*(-?[\d.]+)")  # fmt: skip
_TRUE_PEAK = re.compile(r"Peak:\s+(-?[\d.]+|-inf) dBFS")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Expected:
    """What the timeline says the video must be."""

    duration_s: float
    frame_size: tuple[int, int]
    moving: Sequence[Span]
    """Where the picture must move and not be black (scenes of generated, stock or user media)."""
    speech: Sequence[Span]
    voice_clips: Sequence[Path]
    cues: Sequence[Cue]
    caption_layout: CaptionLayout | None
    caption_lines: int = 2


PICTURE_DETECTORS = (
    f"blackdetect=d={STILL_ALLOWED_S}:pix_th=0.10,freezedetect=n=-60dB:d={STILL_ALLOWED_S}"
)
PIECE_FREEZE_MIN_S = 0.1
PIECE_DETECTORS = f"blackdetect=d=0:pix_th=0.10,freezedetect=n=-60dB:d={PIECE_FREEZE_MIN_S}"
"""The same detectors for pieces of the video (segments, as they are encoded): short spans
too, so spans that continue across a cut can be joined (`join_picture_spans`). A freeze is
only seen once it lasted `PIECE_FREEZE_MIN_S` (at d=0 every frame is its own freeze)."""


def picture_spans(log: str) -> dict[str, list[Span]]:
    """Black and frozen spans from the picture detectors' log (an open one ends at ∞)."""
    found = _spans(log)
    return {"black": found["black"], "freeze": found["freeze"]}


def join_picture_spans(
    pieces: Sequence[tuple[float, dict[str, list[Span]]]], gap_s: float
) -> dict[str, list[Span]]:
    """The video's black and frozen spans from its pieces' (each at its start time, spans
    relative to it): a span ending where the next one starts (within `gap_s`) is one span."""
    joined: dict[str, list[Span]] = {"black": [], "freeze": []}
    for kind, spans in joined.items():
        for start_s, piece in sorted(pieces, key=lambda p: p[0]):
            for begin, end in sorted(piece.get(kind, [])):
                begin, end = begin + start_s, end + start_s
                if spans and begin - spans[-1][1] <= gap_s:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], end))
                else:
                    spans.append((begin, end))
    return joined


SOUND_FILTERS = f"ebur128=peak=true:framelog=verbose,silencedetect=n=-45dB:d={SILENCE_ALLOWED_S}"
"""What the sound checks read: loudness and true peak (the summary), and silences."""


@dataclass(frozen=True, slots=True)
class Sound:
    """`SOUND_FILTERS`' log of one audio stream, and that stream's `audio_digest`."""

    log: str
    stream: str


def measure_sound(media: Path, watchdog: Watchdog, duration_s: float) -> Sound:
    """The sound checks' measurement of `media`'s audio, made where the audio is (compose,
    while the video is still being encoded): it holds for every file with the same stream."""
    stream = audio_digest(media)
    if stream is None:
        raise RenderError(f"{media.name} has no readable audio stream", stage="checks")
    log = run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(media), "-vn",
         "-af", SOUND_FILTERS, "-f", "null", "-"],
        stage="checks", timeout_s=watchdog.timeout_s(duration_s),
    )  # fmt: skip
    return Sound(log, stream)


def audio_digest(media: Path) -> str | None:
    """sha256 of the first audio stream as a decoder gets it: its parameters, timing and every
    packet's bytes and time (None if there is none to read). A stream copy (the join) keeps it."""
    import av

    digest = hashlib.sha256()
    try:
        with av.open(str(media)) as container:
            stream = container.streams.audio[0]
            codec = stream.codec_context
            head = (codec.name, codec.sample_rate, codec.channels, stream.time_base,
                    stream.start_time, stream.duration)  # fmt: skip
            digest.update(repr(head).encode() + bytes(codec.extradata or b""))
            for packet in container.demux(stream):
                if packet.size:
                    digest.update(f"{packet.pts}:{packet.size}:".encode() + bytes(packet))
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    return digest.hexdigest()


def check_output(
    video: Path,
    expected: Expected,
    watchdog: Watchdog,
    picture: dict[str, list[Span]] | None = None,
    measuring: Future[Sound] | None = None,
) -> list[CheckResult]:
    """Every check on `video`; a measurement that cannot be made fails its check.

    `picture`: black and frozen spans already measured on the video's frames as they were
    encoded (`PIECE_DETECTORS`); the picture is then not decoded again. `measuring`: the
    sound being measured on the audio that was joined into `video` (`measure_sound`), waited
    for after the captions' frames are sampled; it counts only if `video`'s audio stream is
    that one, else the sound is decoded from `video`.
    """
    grab = _caption_grab(video, expected)
    sampled = grab.boxes() if grab is not None else []
    sound = measuring.result() if measuring is not None else None
    if sound is not None and audio_digest(video) != sound.stream:
        sound = None
    log = ""
    if picture is None or sound is None:
        log = run(
            [
                ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(video),
                *(["-vf", PICTURE_DETECTORS] if picture is None else ["-vn"]),
                *(["-af", SOUND_FILTERS] if sound is None else ["-an"]),
                "-f", "null", "-",
            ],
            stage="checks", timeout_s=watchdog.timeout_s(expected.duration_s),
        )  # fmt: skip
    sound_log = log if sound is None else sound.log
    events = {**_spans(log), **(picture or {}), "silence": _spans(sound_log)["silence"]}
    return [
        _container(video),
        _durations(video, expected),
        _picture(events, expected),
        _narration(events, expected),
        _loudness(sound_log),
        _captions(expected, sampled),
    ]


def failed(results: Sequence[CheckResult]) -> CheckResult | None:
    return next((r for r in results if not r.ok), None)


def as_manifest(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


def _spans(log: str) -> dict[str, list[Span]]:
    """black/freeze/silence spans from the detectors' log lines (an open one ends at ∞)."""
    spans: dict[str, list[Span]] = {"black": [], "freeze": [], "silence": []}
    opened: dict[str, float] = {}
    for kind, edge, value in ((m[1].split("_")[0], m[1].split("_")[1], float(m[2]))
                              for m in _EVENT.finditer(log)):  # fmt: skip
        if edge == "start":
            opened[kind] = value
        elif kind in opened:
            spans[kind].append((opened.pop(kind), value))
    for kind, start in opened.items():
        spans[kind].append((start, float("inf")))
    return spans


def _overlap(a: Span, b: Span) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def _container(video: Path) -> CheckResult:
    import av

    try:
        with av.open(str(video)) as container:
            codecs = {s.type: s.codec_context.name for s in container.streams}
    except (av.error.FFmpegError, OSError) as exc:
        return CheckResult("container", False, f"the file does not open: {exc}")
    if codecs.get("video") != "h264" or codecs.get("audio") != "aac":
        return CheckResult("container", False, f"streams are {codecs}, not h264 + aac")
    order = _top_level_boxes(video)
    if "moov" not in order or "mdat" not in order or order.index("moov") > order.index("mdat"):
        return CheckResult("container", False, f"not +faststart (boxes {order})")
    return CheckResult("container", True, "h264 + aac, +faststart")


def _top_level_boxes(video: Path) -> list[str]:
    boxes: list[str] = []
    with video.open("rb") as handle:
        while header := handle.read(8):
            if len(header) < 8:
                break
            size, kind = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
            boxes.append(kind)
            if size == 1:  # a 64-bit size follows
                size = int.from_bytes(handle.read(8), "big") - 8
            elif size == 0:  # to the end of the file
                break
            handle.seek(size - 8, 1)
    return boxes


def _durations(video: Path, expected: Expected) -> CheckResult:
    import av

    with av.open(str(video)) as container:
        lengths = {
            s.type: float(s.duration * s.time_base)
            for s in container.streams if s.duration is not None and s.time_base is not None
        }  # fmt: skip
    picture, sound = lengths.get("video", 0.0), lengths.get("audio", 0.0)
    if abs(picture - expected.duration_s) > DURATION_TOLERANCE_S:
        return CheckResult(
            "durations",
            False,
            f"video is {picture:.2f} s, the timeline {expected.duration_s:.2f} s",
        )
    if abs(sound - picture) > DURATION_TOLERANCE_S:
        return CheckResult("durations", False, f"audio is {sound:.2f} s, video {picture:.2f} s")
    return CheckResult("durations", True, f"{picture:.2f} s of video and audio")


def _picture(events: dict[str, list[Span]], expected: Expected) -> CheckResult:
    for kind, what in (("black", "black"), ("freeze", "frozen")):
        for span in events[kind]:
            for scene in expected.moving:
                if _overlap(span, scene) > STILL_ALLOWED_S:
                    end = min(span[1], expected.duration_s)
                    return CheckResult(
                        "picture", False, f"{what} from {span[0]:.1f} s to {end:.1f} s"
                    )
    return CheckResult("picture", True, "no black or frozen stretch")


def _narration(events: dict[str, list[Span]], expected: Expected) -> CheckResult:
    for index, clip in enumerate(expected.voice_clips, start=1):
        level = _rms_dbfs(clip)
        if level < SILENT_CLIP_DBFS:
            return CheckResult(
                "narration", False, f"scene {index}'s narration is silent ({level:.0f} dBFS)"
            )
    for silence in events["silence"]:
        for speech in expected.speech:
            if _overlap(silence, speech) > SILENCE_ALLOWED_S:
                return CheckResult(
                    "narration", False, f"no sound at {silence[0]:.1f} s where narration plays"
                )
    return CheckResult("narration", True, "heard wherever the timeline speaks")


def _rms_dbfs(clip: Path) -> float:
    try:
        with wave.open(str(clip), "rb") as audio:
            if audio.getsampwidth() != 2:
                raise RenderError(f"{clip.name}: expected 16-bit PCM", stage="checks")
            samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    except (OSError, wave.Error) as exc:
        raise RenderError(f"cannot read the narration {clip.name}: {exc}", stage="checks") from exc
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


def _loudness(log: str) -> CheckResult:
    try:
        lufs = integrated_loudness(log)
    except RenderError:
        return CheckResult("loudness", False, "no loudness could be measured")
    peak_found = _TRUE_PEAK.search(log[log.rfind("Summary:") :])
    peak = float(peak_found.group(1)) if peak_found else float("inf")
    if abs(lufs - LOUDNESS_TARGET_LUFS) > LOUDNESS_TOLERANCE_LU:
        return CheckResult("loudness", False, f"{lufs:.1f} LUFS, target {LOUDNESS_TARGET_LUFS:.0f}")
    if peak > TRUE_PEAK_LIMIT_DB + TRUE_PEAK_TOLERANCE_DB:
        return CheckResult(
            "loudness", False, f"true peak {peak:.1f} dBTP, limit {TRUE_PEAK_LIMIT_DB:.1f}"
        )
    return CheckResult("loudness", True, f"{lufs:.1f} LUFS, true peak {peak:.1f} dBTP")


def _captions(expected: Expected, sampled: Sequence[tuple[float, Box | None]]) -> CheckResult:
    for cue in expected.cues:
        if cue.start_s < 0 or cue.end_s > expected.duration_s + DURATION_TOLERANCE_S:
            return CheckResult(
                "captions",
                False,
                f'cue "{cue.text[:40]}" at {cue.start_s:.1f}–{cue.end_s:.1f} s '
                f"is outside the video's {expected.duration_s:.1f} s",
            )
    layout = expected.caption_layout
    if layout is None or not expected.cues:
        return CheckResult("captions", True, f"{len(expected.cues)} cues in time")
    width, height = expected.frame_size
    safe_x, safe_y = width * SAFE_AREA_SHARE, height * SAFE_AREA_SHARE
    block_px = layout.font_px * 1.25 * expected.caption_lines
    room = height - layout.margin_v_px - block_px
    if layout.margin_h_px < safe_x or layout.margin_v_px < safe_y or room < safe_y:
        return CheckResult("captions", False, "the caption block leaves the safe area")
    for at, box in sampled:
        if box is not None and not _inside_safe_area(box, expected.frame_size):
            left, top, right, bottom = box
            return CheckResult(
                "captions",
                False,
                f"in the frame at {at:.2f} s the captions cover x {left}–{right}, "
                f"y {top}–{bottom}: outside the safe area of {width}×{height}",
            )
    seen = sum(box is not None for _, box in sampled)
    frames = f"seen in {seen} of {len(sampled)} sampled frames" if sampled else "no frame sampled"
    return CheckResult(
        "captions", True, f"{len(expected.cues)} cues in time and in the safe area ({frames})"
    )


def _inside_safe_area(box: Box, size: tuple[int, int]) -> bool:
    width, height = size
    margin_x = width * SAFE_AREA_SHARE - CAPTION_EDGE_TOLERANCE_PX
    margin_y = height * SAFE_AREA_SHARE - CAPTION_EDGE_TOLERANCE_PX
    left, top, right, bottom = box
    return (
        left >= margin_x and right <= width - 1 - margin_x
        and top >= margin_y and bottom <= height - 1 - margin_y
    )  # fmt: skip


def caption_handovers(
    expected: Expected, frame_s: float, keyframes_s: Sequence[float] = ()
) -> list[tuple[float, ...]]:
    """Four frame times around cue hand-overs inside one scene's narration (no transition
    between them): two showing one cue, then two showing the next. At most `CAPTION_SAMPLES`
    hand-overs, spread over the video: the first, middle and last, or, given the video's
    key frames, in each stretch of the video the hand-over closest after a key frame (its
    frames are decoded from there)."""
    found: list[tuple[float, ...]] = []
    for before, after in zip(expected.cues, expected.cues[1:], strict=False):
        if after.start_s - before.end_s > 2 * frame_s:
            continue  # a pause without a caption: the frames would be far apart
        early, late = before.end_s - 1.5 * frame_s, after.start_s + 1.5 * frame_s
        times = (early - MOTION_GAP_FRAMES * frame_s, early, late,
                 late + MOTION_GAP_FRAMES * frame_s)  # fmt: skip
        if times[0] <= before.start_s or times[-1] >= after.end_s:
            continue  # a cue too short to be sure which frames show it
        if any(start <= times[0] and times[-1] <= end for start, end in expected.speech):
            found.append(times)
    if len(found) <= CAPTION_SAMPLES:
        return found
    if keyframes_s:
        stretches = (found[round(i * len(found) / CAPTION_SAMPLES) :
                           round((i + 1) * len(found) / CAPTION_SAMPLES)]
                     for i in range(CAPTION_SAMPLES))  # fmt: skip
        return [min(stretch, key=lambda t: _decoded_s(t[0], keyframes_s)) for stretch in stretches]
    last = len(found) - 1
    picks = sorted({round(i * last / (CAPTION_SAMPLES - 1)) for i in range(CAPTION_SAMPLES)})
    return [found[i] for i in picks]


def _decoded_s(at: float, keyframes_s: Sequence[float]) -> float:
    """How much video is decoded to reach the frame at `at`: from the key frame before it."""
    return at - max((k for k in keyframes_s if k <= at), default=0.0)


@dataclass(frozen=True, slots=True)
class _CaptionGrab:
    """The hand-overs' frames to sample from a video."""

    video: Path
    rate: float
    samples: list[tuple[int, ...]]
    """The frame numbers of each hand-over's four frames."""

    def boxes(self) -> list[tuple[float, Box | None]]:
        """For each hand-over: its time and the box of the pixels the caption changed (None
        when nothing changed enough to be told from noise)."""
        found: list[tuple[float, Box | None]] = []
        for sample, frames in zip(self.samples, _luma_frames(self), strict=True):
            if len(frames) == len(sample):  # frames past the end: not sampled
                at = (sample[1] + sample[2]) / 2 / self.rate
                found.append((at, _caption_box(frames)))
        return found


def _luma_frames(grab: _CaptionGrab) -> list[list[np.ndarray]]:
    """Each sample's frames as 8-bit luma (fewer where the video ends first), decoded from the
    keyframe at or before the sample's first frame; frames are numbered by their time."""
    import av

    found: list[list[np.ndarray]] = []
    try:
        with av.open(str(grab.video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # the same frames, decoded on both cores
            start, base = stream.start_time or 0, stream.time_base
            if base is None:
                raise RenderError("the video stream has no time base", stage="checks")
            for sample in grab.samples:
                frames: dict[int, np.ndarray] = {}
                container.seek(start + int((sample[0] - 0.5) / grab.rate / base), stream=stream)
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    number = round(float((frame.pts - start) * base) * grab.rate)
                    if number in sample:
                        frames[number] = frame.to_ndarray(format="gray")
                    if number >= sample[-1]:
                        break
                found.append([frames[n] for n in sample if n in frames])
    except (av.error.FFmpegError, OSError) as exc:
        raise RenderError(f"cannot decode the sampled frames: {exc}", stage="checks") from exc
    return found


def _caption_grab(video: Path, expected: Expected) -> _CaptionGrab | None:
    """Which frames to sample for the captions (None: no caption, or no hand-over to see)."""
    if expected.caption_layout is None or len(expected.cues) < 2:
        return None
    import av

    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or 0)
            start, base = stream.start_time or 0, stream.time_base
            keyframes_s = [
                float((packet.pts - start) * base)
                for packet in container.demux(stream)  # packets only: nothing is decoded
                if packet.is_keyframe and packet.pts is not None and base is not None
            ]
    except (av.error.FFmpegError, OSError, IndexError):
        return None  # the container check says why
    if rate <= 0:
        return None
    # The frame showing at t is the last one that starts at or before it (constant frame rate).
    samples = [
        tuple(int(t * rate + 1e-6) for t in times)
        for times in caption_handovers(expected, 1 / rate, keyframes_s)
    ]
    if not samples:
        return None
    return _CaptionGrab(video, rate, samples)


def _changed(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(first.astype(np.int16) - second) > CAPTION_DIFF_LEVEL)


def _grown(mask: np.ndarray, px: int) -> np.ndarray:
    """`mask` dilated by `px` pixels (a square: rows, then columns), with numpy shifts."""
    grown = mask.copy()
    for shift in range(1, px + 1):
        grown[shift:] |= mask[:-shift]
        grown[:-shift] |= mask[shift:]
    rows = grown.copy()
    for shift in range(1, px + 1):
        grown[:, shift:] |= rows[:, :-shift]
        grown[:, :-shift] |= rows[:, shift:]
    return grown


def _caption_box(frames: Sequence[np.ndarray]) -> Box | None:
    """What changed across the hand-over (frames 1 → 2) but not where the picture moves
    while each cue shows (0 → 1, 2 → 3): the caption's pixels, as a bounding box."""
    moving = _grown(_changed(frames[0], frames[1]) | _changed(frames[2], frames[3]), MOTION_GROW_PX)
    caption = _changed(frames[1], frames[2]) & ~moving
    # Eroded by a pixel: the thin slivers left of moving edges go, glyph strokes stay.
    box = _changed_box(~_grown(~caption, 1))
    if box is None:
        return None
    height, width = caption.shape
    left, top, right, bottom = box
    return max(left - 1, 0), max(top - 1, 0), min(right + 1, width - 1), min(bottom + 1, height - 1)


def _changed_box(changed: np.ndarray) -> Box | None:
    """The bounding box of the rows and columns where many pixels changed."""
    rows = np.flatnonzero(changed.sum(axis=1) >= CAPTION_MIN_RUN_PX)
    columns = np.flatnonzero(changed.sum(axis=0) >= CAPTION_MIN_RUN_PX)
    if rows.size == 0 or columns.size == 0:
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1]), int(rows[-1])
