"""OpenAI text-to-speech (`POST /audio/speech`), or any server speaking the same protocol.

One request per sentence, like Piper: the price is per character, so splitting costs
nothing, the sentences go out in parallel (up to the provider's concurrency cap), and
every sentence's start and end in the clip is exact without guessing where one sentence
stops inside a longer clip. Word times inside a sentence are estimated like Piper's
(the API returns none).

Audio is requested as `pcm` (raw 24 kHz 16-bit mono, no container): nothing to parse,
and no streamed-WAV header with a bogus length. A compatible server that answers with a
WAV anyway is read too. The clip is written as Piper writes its own: a 16-bit mono WAV
at the voice's native rate, sentences back to back with at least Piper's edge silence.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.text import split_sentences
from reelforge.providers.base import Speech, SpokenSentence
from reelforge.providers.http import ClientOptions, ProviderClient
from reelforge.providers.piper_voice import estimate_word_times, speech_span
from reelforge.providers.speech_audio import (
    PCM_RATE_HZ,
    pad_like_piper,
    pcm16_samples,
    peak_normalised,
    sentence_pieces,
    write_wav,
)
from reelforge.providers.usage import Meter

OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
    "verse",
)  # fmt: skip
MAX_INPUT_CHARS = 4096
"""The API's limit on `input`; a longer sentence is sent in pieces cut at spaces."""
SPEED_RANGE = (0.25, 4.0)


class OpenAIVoices:
    """`VoiceProvider` over the OpenAI speech API."""

    id = "openai-tts"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        meter: Meter,
        voices: Sequence[str] = OPENAI_VOICES,
        options: ClientOptions | None = None,
    ) -> None:
        """
        Args:
            base_url: up to and including `/v1` (e.g. `https://api.openai.com/v1`).
            voices: the names accepted; a compatible server may offer others.
            options: for the `ProviderClient`; its concurrency cap sizes the thread pool.
        """
        self.model = model
        self.version = f"1+{model}"
        self._voices = list(voices)
        self._meter = meter
        self._client = ProviderClient(
            "openai-tts", base_url, headers={"Authorization": f"Bearer {api_key}"},
            options=options,
        )  # fmt: skip

    def close(self) -> None:
        self._client.close()

    def voices(self) -> list[str]:
        return list(self._voices)

    def synthesize(self, text: str, *, voice: str, rate: float, out: Path) -> Speech:
        """Speak `text` into a 24 kHz 16-bit mono WAV at `out`.

        Raises:
            InvalidInput: unknown voice, nothing to speak, bad key or rejected request.
            ProviderError: the API kept failing, or sent no audio.
        """
        if voice not in self._voices:
            raise InvalidInput(
                f"unknown voice {voice!r}; available: {', '.join(self._voices)}", stage="voice"
            )
        sentences = split_sentences(text)
        pieces = sentence_pieces(sentences, MAX_INPUT_CHARS)
        if not pieces:
            raise InvalidInput("narration has nothing to speak", stage="voice")
        speed = float(min(max(rate, SPEED_RANGE[0]), SPEED_RANGE[1]))
        with ThreadPoolExecutor(max_workers=self._client.options.max_concurrency) as pool:
            clips = list(pool.map(lambda p: self._speak(p.text, voice, speed), pieces))
        spoken: list[SpokenSentence] = []
        parts: list[NDArray[np.float32]] = []
        offset = 0
        for index, sentence in enumerate(sentences):
            mine = [c for p, c in zip(pieces, clips, strict=True) if p.sentence == index]
            clip, _ = pad_like_piper(np.concatenate(mine), PCM_RATE_HZ)
            lead, tail = speech_span(peak_normalised(clip), PCM_RATE_HZ)
            start, end = offset / PCM_RATE_HZ, (offset + len(clip)) / PCM_RATE_HZ
            words = estimate_word_times(sentence, start + lead, start + tail)
            spoken.append(SpokenSentence(sentence, round(start, 3), round(end, 3), words))
            parts.append(clip)
            offset += len(clip)
        write_wav(out, np.concatenate(parts), PCM_RATE_HZ)
        return Speech(out, offset / PCM_RATE_HZ, tuple(spoken))

    def _speak(self, text: str, voice: str, speed: float) -> NDArray[np.float32]:
        body = {
            "model": self.model, "input": text, "voice": voice, "speed": speed,
            "response_format": "pcm",
        }  # fmt: skip
        response = self._client.request("POST", "/audio/speech", json=body)
        self._meter.record("openai-tts", "speech", characters=len(text))
        samples, rate = _decode(response.content)
        if rate != PCM_RATE_HZ:
            samples = _resample(samples, rate, PCM_RATE_HZ)
        if samples.size == 0:
            raise ProviderError("openai-tts sent no audio", stage="voice")
        return samples


def _decode(data: bytes) -> tuple[NDArray[np.float32], int]:
    """(samples, rate) of raw 24 kHz PCM, or of a 16-bit WAV from a compatible server."""
    if not data.startswith(b"RIFF"):
        return pcm16_samples(data), PCM_RATE_HZ
    try:
        with wave.open(io.BytesIO(data)) as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            # Streamed WAVs carry a placeholder length: read to the end, not to nframes.
            frames = wav.readframes(2**31 - 1)
    except (wave.Error, EOFError) as exc:
        raise ProviderError(f"openai-tts sent an unreadable WAV: {exc}", stage="voice") from exc
    if width != 2:
        raise ProviderError(f"openai-tts sent {8 * width}-bit audio, not 16-bit", stage="voice")
    samples = pcm16_samples(frames)
    usable = samples.size // channels * channels
    return samples[:usable].reshape(-1, channels).mean(axis=1).astype(np.float32), rate


def _resample(samples: NDArray[np.float32], rate: int, target: int) -> NDArray[np.float32]:
    """Linear resampling: only for compatible servers that ignore `pcm` (speech band only)."""
    count = round(len(samples) * target / rate)
    positions = np.arange(count, dtype=np.float64) * rate / target
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
