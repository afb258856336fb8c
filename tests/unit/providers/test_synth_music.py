"""The synthesised music bed: format, determinism, levels, fades and, above all, no loops."""

from __future__ import annotations

import tempfile
import wave
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from reelforge.errors import InvalidInput
from reelforge.model.storyboard import MusicMood
from reelforge.providers import synth_music
from reelforge.providers.base import MusicProvider
from reelforge.providers.synth_music import SynthMusic

RATE = 48_000
F64 = NDArray[np.float64]


def _compose(mood: MusicMood, seconds: float, seed: int, out: Path) -> bytes:
    SynthMusic().compose(mood, seconds, seed, out)
    return out.read_bytes()


@cache
def _audio(mood: MusicMood, seconds: float, seed: int) -> F64:
    """Samples (frames, 2) in [-1, 1); cached because several tests listen to the same piece."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "music.wav"
        SynthMusic().compose(mood, seconds, seed, out)
        with wave.open(str(out), "rb") as wav:
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    return pcm.reshape(-1, 2).astype(np.float64) / 32768


def _rms(x: F64) -> float:
    return float(np.sqrt(np.mean(x**2)))


def test_is_a_music_provider() -> None:
    provider: MusicProvider = SynthMusic()
    assert (provider.id, provider.version) == ("synth", "1")


@pytest.mark.parametrize("seconds", [1.0, 2.5, 7.123456, 13.00001])
def test_writes_48k_stereo_16_bit_of_exactly_the_asked_length(
    seconds: float, tmp_path: Path
) -> None:
    out = tmp_path / "bed.wav"
    SynthMusic().compose(MusicMood.CALM, seconds, 7, out)
    with wave.open(str(out), "rb") as wav:
        assert wav.getframerate() == RATE
        assert wav.getnchannels() == 2
        assert wav.getsampwidth() == 2
        assert wav.getnframes() == round(seconds * RATE)


@pytest.mark.parametrize("seconds", [0.5, 600.5])
def test_rejects_durations_outside_1_to_600_s(seconds: float, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        SynthMusic().compose(MusicMood.CALM, seconds, 7, tmp_path / "bed.wav")


def test_same_mood_duration_and_seed_give_identical_bytes(tmp_path: Path) -> None:
    first = _compose(MusicMood.UPBEAT, 12.0, 42, tmp_path / "a.wav")
    assert _compose(MusicMood.UPBEAT, 12.0, 42, tmp_path / "b.wav") == first


def test_different_seeds_give_different_music() -> None:
    a, b = _audio(MusicMood.CALM, 20.0, 1), _audio(MusicMood.CALM, 20.0, 2)
    assert abs(np.corrcoef(a[:, 0], b[:, 0])[0, 1]) < 0.5


def test_different_moods_give_different_music() -> None:
    pieces = [_audio(mood, 20.0, 7) for mood in MusicMood]
    for i, a in enumerate(pieces):
        for b in pieces[i + 1 :]:
            assert abs(np.corrcoef(a[:, 0], b[:, 0])[0, 1]) < 0.5


def test_upsampling_is_the_polyphase_sum_at_every_chunk_edge() -> None:
    """Each 48 kHz frame 3i + u is the branch-u taps over input samples i - 20 … i + 20 (zero
    outside the piece), also across chunk boundaries and at both ends."""
    rng = np.random.default_rng(1)
    n, half = 2 * synth_music.CHUNK + 123, synth_music.UPSAMPLE_TAPS // 2
    mix = rng.standard_normal((2, n)).astype(np.float32)
    taps = synth_music._upsampler()
    got = np.concatenate(
        [synth_music._upsampled(mix, taps, s) for s in range(0, n, synth_music.CHUNK)]
    )[: synth_music.UP * n]
    padded = np.pad(mix.astype(np.float64), ((0, 0), (half, half)))
    want = sliding_window_view(padded, synth_music.UPSAMPLE_TAPS + 1, axis=1) @ taps
    np.testing.assert_allclose(got, want.reshape(2, -1).T, atol=1e-5)


@pytest.mark.parametrize("mood", list(MusicMood))
def test_is_audible_unclipped_centred_and_peaks_near_minus_3_dbfs(mood: MusicMood) -> None:
    audio = _audio(mood, 20.0, 7)
    peak = float(np.abs(audio).max())
    assert peak < 0.99
    assert -3.5 < 20 * np.log10(peak) < -2.5
    assert _rms(audio) > 10 ** (-30 / 20)
    assert np.all(np.abs(audio.mean(axis=0)) < 1e-3)
    assert _rms(audio[:, 0] - audio[:, 1]) > 0.1 * _rms(audio)  # it is really stereo


@pytest.mark.parametrize("mood", list(MusicMood))
def test_fades_in_and_out(mood: MusicMood) -> None:
    audio = _audio(mood, 20.0, 7)
    middle = _rms(audio[9 * RATE : 11 * RATE])
    assert _rms(audio[: RATE // 20]) < 0.05 * middle
    assert _rms(audio[-RATE // 20 :]) < 0.05 * middle
    assert np.abs(audio[:10]).max() < 1e-3


# Non-repetition. Each piece is described by its log-magnitude spectrogram (mono,
# 8 kHz, 256 ms frames every 100 ms, 20 Hz-2 kHz): what a listener would recognise
# as "the same bit again". The 5 s from 5 s to 10 s are compared with every 5-s
# window starting 10-40 s later (every 100 ms), two ways:
#   content - Pearson correlation of the spectrograms: notes and timbre. A recurring
#             chord legitimately scores high, so only the average over seeds is bounded.
#   motion  - the same after removing each frequency's mean over the window: how the
#             sound moves (onsets, swells, chord changes). Only a copy matches this.
# A loop scores 1.0 on both, as the control test shows.

HOP = 800  # samples at 8 kHz = 100 ms


def _spectrogram(audio: F64) -> F64:
    mono = audio.mean(axis=1)
    mono = mono[: len(mono) // 6 * 6].reshape(-1, 6).mean(axis=1)  # 48 kHz → 8 kHz
    frames = sliding_window_view(mono, 2048)[::HOP] * np.hanning(2048)
    return np.log(np.abs(np.fft.rfft(frames, axis=1))[:, 5:512] + 1e-4)


def _best_match_10_to_40_s_later(spectrogram: F64, *, motion: bool) -> float:
    def unit(window: F64) -> F64:
        if motion:
            window = window - window.mean(axis=0)
        flat: F64 = window.ravel() - window.mean()
        return flat / float(np.linalg.norm(flat))

    reference = unit(spectrogram[50:100])
    return max(
        float(reference @ unit(spectrogram[50 + lag : 100 + lag])) for lag in range(100, 401)
    )


def test_the_repetition_check_catches_a_loop() -> None:
    excerpt = _audio(MusicMood.CALM, 52.0, 1)[5 * RATE : 13 * RATE]
    looped = _spectrogram(np.tile(excerpt, (7, 1)))
    assert _best_match_10_to_40_s_later(looped, motion=False) > 0.99
    assert _best_match_10_to_40_s_later(looped, motion=True) > 0.99


@pytest.mark.parametrize("mood", list(MusicMood))
def test_no_stretch_comes_back_10_to_40_s_later(mood: MusicMood) -> None:
    spectrograms = [_spectrogram(_audio(mood, 52.0, seed)) for seed in (1, 2, 3)]
    content = [_best_match_10_to_40_s_later(s, motion=False) for s in spectrograms]
    motion = [_best_match_10_to_40_s_later(s, motion=True) for s in spectrograms]
    assert np.mean(content) < 0.9, content
    assert max(motion) < 0.9, motion
