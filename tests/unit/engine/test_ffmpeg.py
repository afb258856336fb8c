"""The ffmpeg watchdog: an ffmpeg that makes no end is killed after its timeout, and the
error names the stage and says so (with ffmpeg's own stderr tail)."""

from __future__ import annotations

import pytest

from reelforge.engine import ffmpeg
from reelforge.errors import FFmpegError

ENDLESS = ["-hide_banner", "-re", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-f", "null", "-"]
"""An input that never ends, read at real speed: an ffmpeg that never finishes, cheaply."""


def test_the_watchdog_timeout_grows_with_the_media() -> None:
    watchdog = ffmpeg.Watchdog(base_s=60, per_media_s=10)
    assert watchdog.timeout_s(0) == 60
    assert watchdog.timeout_s(30) == 360


@pytest.mark.timeout(60)
def test_a_hung_ffmpeg_run_is_killed_and_its_stage_fails() -> None:
    with pytest.raises(FFmpegError) as raised:
        ffmpeg.run([ffmpeg.ffmpeg_exe(), *ENDLESS], stage="compose", timeout_s=1.0)
    error = raised.value
    assert error.timed_out and error.stage == "compose"
    assert "watchdog" in str(error) and str(error).startswith("[compose]")
    assert "anullsrc" in error.stderr_tail  # what ffmpeg said before it was stopped


@pytest.mark.timeout(60)
def test_an_ffmpeg_that_stops_reading_frames_is_killed_and_the_writer_fails() -> None:
    """The writer blocks on a full pipe while ffmpeg ignores its input: the watchdog kills
    ffmpeg, the blocked write returns, and the error says why."""
    argv = [ffmpeg.ffmpeg_exe(), *ENDLESS]
    with (
        pytest.raises(FFmpegError) as raised,
        ffmpeg.FrameWriter(argv, stage="compose", timeout_s=1.0) as writer,
    ):
        for _ in range(10_000):
            writer.write(bytes(65_536))
    assert raised.value.timed_out and raised.value.stage == "compose"


@pytest.mark.timeout(60)
def test_a_hung_decoder_is_killed() -> None:
    reader = ffmpeg.FrameReader(
        [ffmpeg.ffmpeg_exe(), "-hide_banner", "-re", "-f", "lavfi", "-i", "color=s=16x16:r=1",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        1_000_000, stage="compose", timeout_s=1.0,
    )  # fmt: skip
    try:
        with pytest.raises(FFmpegError) as raised:
            reader.read()
    finally:
        reader.close()
    assert raised.value.timed_out
