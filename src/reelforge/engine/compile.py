"""ffmpeg command lines, built as plain argv lists (pure: snapshot-tested, never run here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOUDNESS_TARGET_LUFS = -14.0
TRUE_PEAK_LIMIT_DB = -1.5
AUDIO_RATE_HZ = 48_000
MUSIC_FADE_OUT_S = 2.0
"""The music fades out over the video's last seconds, wherever its bed or file would end."""
MUSIC_FADE_OUT_SHARE = 0.25
"""A short video's music fades over its last quarter only: faded over the whole of a 2 s
video, the music gave way, the loudness gain then drove the voice into the limiter, and the
video ended up 3 LU under the target (a failed loudness check)."""
RECIPE_VERSION = "7"
"""Part of every composed artifact's cache key: bump it when a command line below changes."""


BT709_TAGS = [
    "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
    "-color_range", "tv",
]  # fmt: skip
"""What our raw frames are (frames.py makes BT.709 limited range). Given on the input too:
untagged, ffmpeg took them for BT.601 and converted every frame to the tagged output through
RGB (a colour shift, and about a third of the encode's CPU at 1080x1920)."""


@dataclass(frozen=True, slots=True)
class Encoder:
    """H.264 settings shared by every segment: they must match for a lossless concat.

    `ultrafast` with CABAC, the deblocking filter and B-frames put back: on our slow Ken Burns
    motion at 1080x1920 it took about 45 % less CPU than `superfast` at the same CRF (which
    took ~15 % less than `veryfast` in the whole encode command, ~38 % in x264 alone), made
    a smaller file than `superfast`, and scored an SSIM of 0.995 against the `veryfast`
    output (bench/RESULTS.md, issue #21).
    Plain `ultrafast` (no CABAC, deblocking or B-frames) made files twice as large.
    """

    preset: str = "ultrafast"
    crf: int = 23
    audio_bitrate: str = "160k"
    x264_params: str = "cabac=1:deblock=0,0:bframes=3"
    """x264 options over the preset (`-x264-params`); empty for the preset as it is."""

    def video_args(self, fps: int) -> list[str]:
        tuned = ["-x264-params", self.x264_params] if self.x264_params else []
        return [
            "-c:v", "libx264", "-preset", self.preset, *tuned, "-crf", str(self.crf),
            "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", str(fps * 2), *BT709_TAGS,
        ]  # fmt: skip


def escape_filter_value(value: str) -> str:
    """Escape a value for an ffmpeg filter option, then for the filter graph around it."""
    option_level = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    graph_level = option_level.replace("\\", "\\\\")
    for char in "'[],;":
        graph_level = graph_level.replace(char, "\\" + char)
    return graph_level


@dataclass(frozen=True, slots=True)
class Overlay:
    """A logo drawn over every frame: `width_px` wide, `margin_px` in from its corner."""

    path: Path
    corner: str
    """`top-left`, `top-right`, `bottom-left` or `bottom-right`."""
    width_px: int
    margin_px: int
    opacity: float

    def graph(self, main: str, out: str) -> str:
        """The filters putting the logo (input 1) over `main`, labelled `out`."""
        vertical, horizontal = self.corner.split("-")
        m = self.margin_px
        x = str(m) if horizontal == "left" else f"W-w-{m}"
        y = str(m) if vertical == "top" else f"H-h-{m}"
        return (
            f"[1:v]scale={self.width_px}:-1,format=rgba,"
            f"colorchannelmixer=aa={self.opacity:.3f}[logo];"
            f"[{main}][logo]overlay=x={x}:y={y}:format=auto[{out}]"
        )


NEVER_CUT = 2**30
"""A cut frame no run reaches: one segment only."""


def segment_argv(
    ffmpeg: str,
    *,
    size: tuple[int, int],
    fps: int,
    out_pattern: Path,
    cuts: list[int],
    encoder: Encoder,
    overlay: Overlay | None = None,
    detect: str | None = None,
) -> list[str]:
    """Encode raw yuv420p frames (captions already in them) from stdin into one MP4 per
    segment, cut before each frame in `cuts` (each cut an IDR frame, so every file decodes
    alone and the files join by stream copy), with a logo `overlay`, if given.

    One encoder for a run of segments keeps x264's threads busy across scene boundaries
    (no process start, lookahead fill and flush per scene) and holds one encoder's memory.
    With `detect`, those filters (the output checks' picture detectors) also see every
    finished frame, logging at info level to stderr, so the checks need not decode it again.
    """
    width, height = size
    argv = [
        ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel",
        "info" if detect else "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}",
        "-r", str(fps), *BT709_TAGS, "-i", "pipe:0",
    ]  # fmt: skip
    video = "[v]"
    if overlay is not None:
        graph = overlay.graph("0:v", "v")
        argv += ["-i", str(overlay.path)]
    elif detect:
        graph = "[0:v]null[v]"
    else:
        graph, video = "", ""
    if detect:
        graph += f";[v]split=2[enc][det];[det]{detect}[checked]"
        video = "[enc]"
    if graph:
        argv += ["-filter_complex", graph, "-map", video]
    argv += encoder.video_args(fps)
    if cuts:
        keys = "+".join(f"eq(n,{cut})" for cut in cuts)
        argv += ["-force_key_frames", f"expr:{keys}", "-forced-idr", "1"]
    argv += [
        "-an", "-f", "segment", "-segment_format", "mp4",
        "-segment_frames", ",".join(str(cut) for cut in cuts) if cuts else str(NEVER_CUT),
        "-reset_timestamps", "1", str(out_pattern),
    ]  # fmt: skip
    return [*argv, "-map", "[checked]", "-f", "null", "-"] if detect else argv


def _libass(subtitles: Path, fonts_dir: Path) -> str:
    """The filter that burns the ASS file `subtitles` in with libass, fonts from `fonts_dir`."""
    return (
        f"subtitles=filename={escape_filter_value(str(subtitles))}"
        f":fontsdir={escape_filter_value(str(fonts_dir))}"
    )


def caption_sprites_argv(
    ffmpeg: str, *, backgrounds: Path, size: tuple[int, int], rows: tuple[int, int],
    subtitles: Path, fonts_dir: Path, frames: int,
) -> list[str]:  # fmt: skip
    """`frames` raw frames of ASS captions burnt by libass into the two frames of
    `backgrounds` in turn, frame N drawn at N seconds (caption sprites: sprites.py), cut to
    the band `rows` (top, bottom).

    The input is tagged as the segment encoder's is, so libass's colours are converted to
    YUV exactly as they were when it burnt the captions into the video itself.
    """
    width, height = size
    top, bottom = rows
    burn = f"settb=1,setpts=N,{_libass(subtitles, fonts_dir)},crop={width}:{bottom - top}:0:{top}"
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-stream_loop", "-1",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", "1",
        *BT709_TAGS, "-i", str(backgrounds), "-vf", burn, "-frames:v", str(frames),
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1",
    ]  # fmt: skip


def still_captions_argv(
    ffmpeg: str, *, still: Path, subtitles: Path, fonts_dir: Path, out: Path, scale: float = 1.0
) -> list[str]:
    """One PNG frame: `still` with ASS captions burned in by libass, then scaled by `scale`
    (template previews: drawn at a real frame size, shown as a thumbnail)."""
    burn = (
        f"{_libass(subtitles, fonts_dir)}"
        f",scale=trunc(iw*{scale:g}/2)*2:trunc(ih*{scale:g}/2)*2:flags=area"
    )
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-i", str(still), "-vf", burn, "-frames:v", "1", str(out),
    ]  # fmt: skip


def clip_decode_argv(
    ffmpeg: str, source: Path, *, size: tuple[int, int], fps: int, frames: int
) -> list[str]:
    """Decode a user's clip to exactly `frames` raw frames: looped, scaled and cropped to fill."""
    width, height = size
    fill = (
        f"scale={width}:{height}:force_original_aspect_ratio=increase:out_color_matrix=bt709"
        f":out_range=tv,crop={width}:{height},fps={fps},format=yuv420p"
    )
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-stream_loop", "-1", "-i", str(source), "-an", "-vf", fill,
        "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1",
    ]  # fmt: skip


def audio_mix_argv(
    ffmpeg: str,
    *,
    narration: Path,
    music: Path | None,
    music_volume: float,
    loop_music: bool,
    duration_s: float,
    out: Path,
) -> list[str]:
    """Pass 1 of the mix: voice + music ducked under it, written as float WAV and measured.

    ebur128's integrated loudness (its summary on stderr) feeds pass 2; it costs
    a twentieth of loudnorm's measurement, which resamples to 192 kHz.
    """
    to_stereo = f"aresample={AUDIO_RATE_HZ},aformat=sample_fmts=fltp:channel_layouts=stereo"
    measure = "ebur128=framelog=quiet"
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-y", "-i", str(narration)]
    # Compressing the voice evens out Piper's per-sentence 0 dBFS peaks, so the final
    # limiter barely works and the measured gain lands the target loudness.
    voice = (
        f"[0:a]{to_stereo},acompressor=threshold=0.1:ratio=4:attack=5:release=150:makeup=2,"
        f"apad=whole_dur={duration_s:.3f},atrim=0:{duration_s:.3f}"
    )
    if music is None:
        graph = f"{voice},asplit=2[out][meas];[meas]{measure}[null]"
    else:
        argv += [*(["-stream_loop", "-1"] if loop_music else []), "-i", str(music)]
        fade = min(MUSIC_FADE_OUT_S, duration_s * MUSIC_FADE_OUT_SHARE)
        fade_at = duration_s - fade
        graph = (
            f"{voice},asplit=2[vk][vs];"
            f"[1:a]{to_stereo},atrim=0:{duration_s:.3f},afade=t=out:st={fade_at:.3f}:d={fade:.3f},"
            f"volume={music_volume:.3f}[m];"
            "[m][vs]sidechaincompress=threshold=0.02:ratio=8:attack=40:release=600[duck];"
            "[vk][duck]amix=inputs=2:normalize=0:duration=first,asplit=2[out][meas];"
            f"[meas]{measure}[null]"
        )
    return [
        *argv, "-filter_complex", graph,
        "-map", "[out]", "-c:a", "pcm_f32le", str(out),
        "-map", "[null]", "-f", "null", "-",
    ]  # fmt: skip


def loudness_argv(
    ffmpeg: str, *, mix: Path, measured_lufs: float, encoder: Encoder, out: Path
) -> list[str]:
    """Pass 2: one linear gain to the target loudness, then a true-peak-safe limiter, then AAC.

    A linear gain keeps the mix's dynamics (loudnorm's dynamic mode pumps);
    limiting at 4x the sample rate catches inter-sample peaks, with margin
    for the AAC encoder's own overshoot. The "fast" AAC coder takes half the
    time of the default at the same bitrate.
    """
    gain_db = LOUDNESS_TARGET_LUFS - measured_lufs
    ceiling = 10 ** ((TRUE_PEAK_LIMIT_DB - 0.5) / 20)
    apply = (
        f"volume={gain_db:.2f}dB,aresample={AUDIO_RATE_HZ * 4},"
        f"alimiter=limit={ceiling:.4f}:attack=2:release=60:level=false,"
        f"aresample={AUDIO_RATE_HZ}"
    )
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(mix),
        "-af", apply, "-c:a", "aac", "-aac_coder", "fast", "-b:a", encoder.audio_bitrate,
        "-ar", str(AUDIO_RATE_HZ),
        str(out),
    ]  # fmt: skip


def mux_argv(
    ffmpeg: str, *, concat_list: Path, audio: Path, fps: int, duration_s: float, out: Path
) -> list[str]:
    """Join the encoded segments without re-encoding and add the audio; moov atom first.

    A video timescale of one tick per frame keeps the joined timestamps exact
    (at ffmpeg's default 1/15360 each join loses a few ticks to rounding).
    """
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(concat_list), "-i", str(audio),
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-t", f"{duration_s:.3f}",
        "-video_track_timescale", str(fps),
        "-movflags", "+faststart", "-f", "mp4", str(out),
    ]  # fmt: skip
