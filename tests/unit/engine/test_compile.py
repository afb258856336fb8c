"""Snapshots of the ffmpeg command lines: a change here is a change in every render."""

from __future__ import annotations

from pathlib import Path

from reelforge.engine.compile import (
    Encoder,
    Overlay,
    audio_mix_argv,
    caption_sprites_argv,
    clip_decode_argv,
    escape_filter_value,
    loudness_argv,
    mux_argv,
    segment_argv,
    still_captions_argv,
)

X264 = [
    "-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "cabac=1:deblock=0,0:bframes=3",
    "-crf", "23", "-profile:v", "high",
    "-pix_fmt", "yuv420p", "-g", "60", "-colorspace", "bt709", "-color_primaries", "bt709",
    "-color_trc", "bt709", "-color_range", "tv",
]  # fmt: skip
BT709 = X264[-8:]
"""The raw frames are tagged as what they are, so ffmpeg converts nothing."""


SEGMENTS = ["-an", "-f", "segment", "-segment_format", "mp4"]


def test_segments_are_cut_at_forced_idr_frames() -> None:
    argv = segment_argv(
        "ffmpeg", size=(1280, 720), fps=30, out_pattern=Path("/w/part%04d.mp4"), cuts=[15, 131],
        encoder=Encoder(),
    )  # fmt: skip
    assert argv == [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1280x720", "-r", "30",
        *BT709, "-i", "pipe:0",
        *X264, "-force_key_frames", "expr:eq(n,15)+eq(n,131)", "-forced-idr", "1",
        *SEGMENTS, "-segment_frames", "15,131", "-reset_timestamps", "1", "/w/part%04d.mp4",
    ]  # fmt: skip


def test_detectors_see_the_finished_frames_beside_the_encoder() -> None:
    argv = segment_argv(
        "ffmpeg", size=(480, 480), fps=30, out_pattern=Path("p%04d.mp4"), cuts=[],
        encoder=Encoder(), detect="blackdetect",
    )  # fmt: skip
    assert argv[argv.index("-loglevel") + 1] == "info"
    assert argv[argv.index("-filter_complex") + 1] == (
        "[0:v]null[v];[v]split=2[enc][det];[det]blackdetect[checked]"
    )
    assert argv[argv.index("-map") + 1] == "[enc]"
    assert argv[-5:] == ["-map", "[checked]", "-f", "null", "-"]


def test_one_segment_is_never_cut() -> None:
    argv = segment_argv(
        "ffmpeg", size=(480, 480), fps=30, out_pattern=Path("p%04d.mp4"), cuts=[],
        encoder=Encoder(),
    )  # fmt: skip
    assert "-force_key_frames" not in argv
    assert argv[argv.index("-segment_frames") + 1] == str(2**30)


def test_preview_still_burns_captions_then_scales_to_even_sides() -> None:
    argv = still_captions_argv(
        "ffmpeg", still=Path("/w/still.png"), subtitles=Path("/w/c.ass"),
        fonts_dir=Path("/fonts"), out=Path("/w/p.png"), scale=0.5,
    )  # fmt: skip
    assert argv == [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", "/w/still.png",
        "-vf", "subtitles=filename=/w/c.ass:fontsdir=/fonts,"
        "scale=trunc(iw*0.5/2)*2:trunc(ih*0.5/2)*2:flags=area",
        "-frames:v", "1", "/w/p.png",
    ]  # fmt: skip


def test_segment_without_a_watermark_or_detectors_has_no_filter() -> None:
    argv = segment_argv(
        "ffmpeg", size=(480, 480), fps=30, out_pattern=Path("p%04d.mp4"), cuts=[],
        encoder=Encoder(),
    )  # fmt: skip
    assert "-vf" not in argv
    assert "-filter_complex" not in argv


def test_caption_sprites_are_drawn_over_tagged_backgrounds_one_a_second_on_a_band() -> None:
    argv = caption_sprites_argv(
        "ffmpeg", backgrounds=Path("/w/bg.yuv"), size=(1280, 720), rows=(500, 700),
        subtitles=Path("/w/c.ass"), fonts_dir=Path("/fonts"), frames=6,
    )  # fmt: skip
    assert argv == [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-stream_loop", "-1",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1280x720", "-r", "1", *BT709,
        "-i", "/w/bg.yuv",
        "-vf", "settb=1,setpts=N,subtitles=filename=/w/c.ass:fontsdir=/fonts,crop=1280:200:0:500",
        "-frames:v", "6", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1",
    ]  # fmt: skip


def test_segment_with_a_watermark_overlays_the_logo() -> None:
    logo = Overlay(Path("/in/logo.png"), "bottom-right", width_px=128, margin_px=14, opacity=0.5)
    argv = segment_argv(
        "ffmpeg", size=(1280, 720), fps=30, out_pattern=Path("/w/p%04d.mp4"), cuts=[],
        encoder=Encoder(), overlay=logo,
    )  # fmt: skip
    assert argv == [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1280x720", "-r", "30",
        *BT709, "-i", "pipe:0",
        "-i", "/in/logo.png", "-filter_complex",
        "[1:v]scale=128:-1,format=rgba,colorchannelmixer=aa=0.500[logo];"
        "[0:v][logo]overlay=x=W-w-14:y=H-h-14:format=auto[v]",
        "-map", "[v]", *X264, *SEGMENTS, "-segment_frames", str(2**30),
        "-reset_timestamps", "1", "/w/p%04d.mp4",
    ]  # fmt: skip
    top_left = Overlay(Path("l.png"), "top-left", width_px=64, margin_px=5, opacity=1.0)
    plain = segment_argv(
        "ffmpeg", size=(480, 480), fps=30, out_pattern=Path("p%04d.mp4"), cuts=[],
        encoder=Encoder(), overlay=top_left,
    )  # fmt: skip
    assert plain[plain.index("-map") - 1].endswith("overlay=x=5:y=5:format=auto[v]")


def test_filter_values_are_escaped_twice() -> None:
    assert escape_filter_value("/a b/it's:x,[1].ass") == "/a b/it\\\\\\'s\\\\:x\\,\\[1\\].ass"


def test_clip_is_looped_scaled_to_fill_and_cut_to_frames() -> None:
    assert clip_decode_argv("ffmpeg", Path("c.mov"), size=(720, 1280), fps=25, frames=99) == [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-stream_loop", "-1", "-i", "c.mov", "-an", "-vf",
        "scale=720:1280:force_original_aspect_ratio=increase:out_color_matrix=bt709"
        ":out_range=tv,crop=720:1280,fps=25,format=yuv420p",
        "-frames:v", "99", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1",
    ]  # fmt: skip


def mix_with_music(duration_s: float) -> tuple[list[str], str]:
    """Pass 1's command line for a voice over an unlooped song at 0.25, and its filter graph."""
    argv = audio_mix_argv(
        "ffmpeg", narration=Path("n.wav"), music=Path("m.wav"), music_volume=0.25,
        loop_music=False, duration_s=duration_s, out=Path("mix.wav"),
    )  # fmt: skip
    return argv, argv[argv.index("-filter_complex") + 1]


def test_audio_mix_ducks_music_under_the_voice_and_measures() -> None:
    argv, graph = mix_with_music(30.5)
    assert "[m][vs]sidechaincompress" in graph
    assert "volume=0.250" in graph
    assert "apad=whole_dur=30.500,atrim=0:30.500" in graph
    assert "atrim=0:30.500,afade=t=out:st=28.500:d=2.000,volume=0.250[m]" in graph
    assert graph.endswith("asplit=2[out][meas];[meas]ebur128=framelog=quiet[null]")
    assert argv[-10:] == [
        "-map", "[out]", "-c:a", "pcm_f32le", "mix.wav", "-map", "[null]", "-f", "null", "-",
    ]  # fmt: skip
    assert "-stream_loop" not in argv


def test_a_short_videos_music_fades_over_its_last_quarter_only() -> None:
    """Faded over a whole 2 s video, the music gave way and the loudness gain pushed the
    voice into the limiter: the video came out 3 LU under the target."""
    _, graph = mix_with_music(2.0)
    assert "atrim=0:2.000,afade=t=out:st=1.500:d=0.500,volume=0.250[m]" in graph


def test_audio_mix_without_music_loops_nothing() -> None:
    argv = audio_mix_argv(
        "ffmpeg", narration=Path("n.wav"), music=None, music_volume=0.25, loop_music=True,
        duration_s=10, out=Path("mix.wav"),
    )  # fmt: skip
    assert argv.count("-i") == 1
    assert "sidechaincompress" not in argv[argv.index("-filter_complex") + 1]


def test_user_music_is_looped() -> None:
    argv = audio_mix_argv(
        "ffmpeg", narration=Path("n.wav"), music=Path("song.mp3"), music_volume=0.5,
        loop_music=True, duration_s=10, out=Path("mix.wav"),
    )  # fmt: skip
    at = argv.index("song.mp3")
    assert argv[at - 3 : at] == ["-stream_loop", "-1", "-i"]


def test_loudness_pass_applies_measured_gain_and_limits_peaks() -> None:
    argv = loudness_argv(
        "ffmpeg", mix=Path("mix.wav"), measured_lufs=-20.0, encoder=Encoder(),
        out=Path("a.m4a"),
    )  # fmt: skip
    chain = argv[argv.index("-af") + 1]
    assert chain.startswith("volume=6.00dB,aresample=192000,alimiter=limit=0.7943")
    assert chain.endswith("aresample=48000")
    assert argv[-9:] == [
        "-c:a", "aac", "-aac_coder", "fast", "-b:a", "160k", "-ar", "48000", "a.m4a",
    ]  # fmt: skip


def test_mux_copies_streams_with_exact_timestamps_and_faststart() -> None:
    assert mux_argv(
        "ffmpeg", concat_list=Path("l.txt"), audio=Path("a.m4a"), fps=30, duration_s=12.5,
        out=Path("o.mp4"),
    ) == [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", "l.txt", "-i", "a.m4a",
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-t", "12.500",
        "-video_track_timescale", "30", "-movflags", "+faststart", "-f", "mp4", "o.mp4",
    ]  # fmt: skip
