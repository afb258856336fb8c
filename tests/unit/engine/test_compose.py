"""Encoding a run of frames: the segments keep the colours they were given."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from reelforge.engine import ffmpeg
from reelforge.engine.compile import Encoder
from reelforge.engine.compose import encode_run, mix_audio
from reelforge.engine.frames import rgb_to_yuv420

SIZE = (64, 48)


def decoded_planes(video: Path) -> np.ndarray:
    argv = [ffmpeg.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(video),
            "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]  # fmt: skip
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8)


def test_a_saturated_colour_comes_out_of_the_encoder_as_it_went_in(tmp_path: Path) -> None:
    """The frames are BT.709: ffmpeg must not take them for BT.601 and convert them."""
    orange = rgb_to_yuv420(np.full((SIZE[1], SIZE[0], 3), (240, 120, 20), np.uint8))
    files, _ = encode_run(
        iter([orange] * 10), [5], total=10, size=SIZE, fps=30, encoder=Encoder(),
        out_dir=tmp_path,
    )  # fmt: skip
    sent = np.concatenate([plane.ravel() for plane in orange]).astype(int)
    for segment in files:
        assert np.abs(decoded_planes(segment).astype(int) - sent).max() <= 2


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def test_the_music_fades_out_at_the_videos_end_not_the_beds(tmp_path: Path) -> None:
    """A bed longer than the video (kept for edits that change its length) is not cut off
    at full level: the mix fades it over the video's last seconds."""
    rate, seconds = 48_000, 6.0
    t = np.arange(int(rate * 20)) / rate  # a 20 s bed: a steady tone
    tone = (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    write_wav(tmp_path / "bed.wav", np.repeat(tone, 2), rate, 2)
    write_wav(tmp_path / "voice.wav", np.zeros(22_050, np.int16), 22_050, 1)  # silent
    mix_audio(
        narration=tmp_path / "voice.wav", music=tmp_path / "bed.wav", music_volume=0.5,
        loop_music=False, duration_s=seconds, encoder=Encoder(), work=tmp_path,
        out=tmp_path / "audio.m4a",
    )  # fmt: skip
    argv = [ffmpeg.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i",
            str(tmp_path / "audio.m4a"), "-ac", "1", "-f", "s16le", "pipe:1"]  # fmt: skip
    heard = np.frombuffer(subprocess.run(argv, capture_output=True, check=True).stdout, "<i2")

    def rms(start_s: float, end_s: float) -> float:
        span = heard[int(start_s * rate) : int(end_s * rate)].astype(float)
        return float(np.sqrt(np.mean(span**2)))

    assert len(heard) / rate == pytest.approx(seconds, abs=0.05)
    assert rms(seconds - 0.1, seconds - 0.02) < rms(2.0, 3.0) / 10
