"""ElevenLabs text-to-speech with real word timestamps.

`POST /v1/text-to-speech/{voice_id}/with-timestamps` returns the audio and, per input
character, when it is spoken: word times are read from it, not estimated, so captions
highlight the word being said. Sentences are packed into requests of at most
`chunk_chars` (the alignment gives the sentence times inside a request, and longer
requests keep the intonation flowing); the price is per character either way.
Neighbouring text goes along as `previous_text` / `next_text` so chunks join smoothly.
Output is `pcm_24000`, written like Piper's clips (16-bit mono WAV, Piper's edge silence).
"""

from __future__ import annotations

import base64
import binascii
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.text import split_sentences, words
from reelforge.providers.base import Speech, SpokenSentence, Word
from reelforge.providers.http import ClientOptions, ProviderClient
from reelforge.providers.piper_voice import estimate_word_times, speech_span
from reelforge.providers.speech_audio import (
    PCM_RATE_HZ,
    Piece,
    pad_like_piper,
    pcm16_samples,
    peak_normalised,
    write_wav,
)
from reelforge.providers.speech_audio import sentence_pieces as split_pieces
from reelforge.providers.usage import Meter

OUTPUT_FORMAT = "pcm_24000"
CHUNK_CHARS = 2_500
"""Well under every model's request limit (eleven_multilingual_v2: 10 000)."""
SPEED_RANGE = (0.7, 1.2)
"""What `voice_settings.speed` accepts; faster or slower rates are clamped."""
SENTENCE_LEAD_S = 0.05
"""Silence before a sentence that belongs to it (as in Piper's clips); the rest of a
pause belongs to the sentence before."""


@dataclass(frozen=True, slots=True)
class _Timed:
    """One request's audio, padded, with each piece's words in clip-relative seconds."""

    samples: NDArray[np.float32]
    words: list[list[Word]]


class ElevenLabsVoices:
    """`VoiceProvider` over the ElevenLabs API; voices are the account's, by name or id."""

    id = "elevenlabs"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        meter: Meter,
        model_id: str = "eleven_multilingual_v2",
        chunk_chars: int = CHUNK_CHARS,
        options: ClientOptions | None = None,
    ) -> None:
        """
        Args:
            base_url: the API root, without `/v1` (e.g. `https://api.elevenlabs.io`).
            options: for the `ProviderClient`; its concurrency cap sizes the thread pool.
        """
        self.model_id = model_id
        self.version = f"1+{model_id}"
        self._meter = meter
        self._chunk_chars = chunk_chars
        self._catalogue: dict[str, str] | None = None
        self._client = ProviderClient(
            "elevenlabs", base_url, headers={"xi-api-key": api_key}, options=options
        )

    def close(self) -> None:
        self._client.close()

    def _voice_ids(self) -> dict[str, str]:
        """name → voice_id, fetched once per instance."""
        if self._catalogue is None:
            body = self._client.request("GET", "/v1/voices").json()
            try:
                listed = {str(v["name"]): str(v["voice_id"]) for v in body["voices"]}
            except (KeyError, TypeError) as exc:
                raise ProviderError(
                    f"elevenlabs sent an unexpected voice list: {exc!r}", stage="voice"
                ) from exc
            self._catalogue = listed
        return self._catalogue

    def voices(self) -> list[str]:
        return list(self._voice_ids())

    def knows(self, voice: str) -> bool:
        """True for a voice name (any case) or a voice id of this account."""
        return self._resolve(voice) is not None

    def _resolve(self, voice: str) -> str | None:
        ids = self._voice_ids()
        if voice in ids:
            return ids[voice]
        if voice in ids.values():
            return voice
        folded = {name.casefold(): vid for name, vid in ids.items()}
        return folded.get(voice.casefold())

    def synthesize(self, text: str, *, voice: str, rate: float, out: Path) -> Speech:
        """Speak `text` into a 24 kHz 16-bit mono WAV at `out`, with aligned word times.

        Raises:
            InvalidInput: unknown voice, nothing to speak, bad key or rejected request.
            ProviderError: the API kept failing, or sent audio or timings it cannot read.
        """
        voice_id = self._resolve(voice)
        if voice_id is None:
            raise InvalidInput(
                f"unknown voice {voice!r}; available: {', '.join(self.voices())}", stage="voice"
            )
        sentences = split_sentences(text)
        chunks = _pack(split_pieces(sentences, self._chunk_chars), self._chunk_chars)
        if not chunks:
            raise InvalidInput("narration has nothing to speak", stage="voice")
        speed = float(min(max(rate, SPEED_RANGE[0]), SPEED_RANGE[1]))
        texts = [" ".join(p.text for p in chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=self._client.options.max_concurrency) as pool:
            timed = list(
                pool.map(
                    lambda i: self._speak(chunks[i], texts, i, voice_id, speed), range(len(texts))
                )
            )
        # Absolute word times, grouped by sentence.
        by_sentence: list[list[Word]] = [[] for _ in sentences]
        offset = 0
        for chunk, result in zip(chunks, timed, strict=True):
            shift = offset / PCM_RATE_HZ
            for piece, piece_words in zip(chunk, result.words, strict=True):
                by_sentence[piece.sentence].extend(
                    Word(w.text, round(w.start_s + shift, 3), round(w.end_s + shift, 3))
                    for w in piece_words
                )
            offset += len(result.samples)
        duration = offset / PCM_RATE_HZ
        write_wav(out, np.concatenate([r.samples for r in timed]), PCM_RATE_HZ)
        return Speech(out, duration, _sentences(sentences, by_sentence, duration))

    def _speak(
        self, chunk: list[Piece], texts: list[str], index: int, voice_id: str, speed: float
    ) -> _Timed:
        text = texts[index]
        body: dict[str, Any] = {
            "text": text,
            "model_id": self.model_id,
            "voice_settings": {
                "stability": 0.5, "similarity_boost": 0.75, "style": 0.0,
                "use_speaker_boost": True, "speed": speed,
            },
        }  # fmt: skip
        if index > 0:
            body["previous_text"] = texts[index - 1]
        if index + 1 < len(texts):
            body["next_text"] = texts[index + 1]
        response = self._client.request(
            "POST", f"/v1/text-to-speech/{voice_id}/with-timestamps",
            params={"output_format": OUTPUT_FORMAT}, json=body,
        )  # fmt: skip
        self._meter.record("elevenlabs", "speech", characters=len(text))
        try:
            payload = response.json()
            samples = pcm16_samples(base64.b64decode(payload["audio_base64"], validate=True))
            alignment = payload.get("alignment") or {}
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ProviderError(
                f"elevenlabs sent an unreadable response: {exc!r}", stage="voice"
            ) from exc
        if samples.size == 0:
            raise ProviderError("elevenlabs sent no audio", stage="voice")
        padded, before = pad_like_piper(samples, PCM_RATE_HZ)
        lead = before / PCM_RATE_HZ
        aligned = _align(chunk, alignment)
        if aligned is None:  # timings missing or not matching the text: estimate instead
            aligned = _estimate(chunk, samples)
        moved = [[Word(w.text, w.start_s + lead, w.end_s + lead) for w in ws] for ws in aligned]
        return _Timed(padded, moved)


def _pack(pieces: list[Piece], limit: int) -> list[list[Piece]]:
    """Consecutive pieces grouped into requests of at most `limit` characters."""
    chunks: list[list[Piece]] = []
    size = 0
    for piece in pieces:
        if chunks and size + 1 + len(piece.text) <= limit:
            chunks[-1].append(piece)
            size += 1 + len(piece.text)
        else:
            chunks.append([piece])
            size = len(piece.text)
    return chunks


def _align(chunk: list[Piece], alignment: dict[str, Any]) -> list[list[Word]] | None:
    """Each piece's words timed from the per-character alignment, or None if it can't be."""
    try:
        chars = [str(c) for c in alignment["characters"]]
        starts = [float(t) for t in alignment["character_start_times_seconds"]]
        ends = [float(t) for t in alignment["character_end_times_seconds"]]
    except (KeyError, TypeError, ValueError):
        return None
    if not chars or not len(chars) == len(starts) == len(ends) or any(len(c) != 1 for c in chars):
        return None
    backwards = any(b < a for a, b in pairwise(starts))
    if backwards or any(e < s for s, e in zip(starts, ends, strict=True)):
        return None  # not a timeline: better estimated than captions jumping back
    spoken = "".join(chars)
    cursor = 0
    timed: list[list[Word]] = []
    for piece in chunk:
        piece_words: list[Word] = []
        for word in words(piece.text):
            at = spoken.find(word, cursor)
            if at < 0:
                return None
            cursor = at + len(word)
            first, last = _voiced(word)
            piece_words.append(Word(word, round(starts[at + first], 3), round(ends[at + last], 3)))
        timed.append(piece_words)
    return timed


def _voiced(word: str) -> tuple[int, int]:
    """Indexes of the first and last letter or digit of `word` (of all of it if none):
    a word is timed from its first sound to its last, not through the pause a trailing
    full stop or comma is aligned to."""
    voiced = [i for i, char in enumerate(word) if char.isalnum()]
    return (voiced[0], voiced[-1]) if voiced else (0, len(word) - 1)


def _estimate(chunk: list[Piece], samples: NDArray[np.float32]) -> list[list[Word]]:
    """Fallback: the speech span shared among the pieces by length, words spread inside."""
    lead, tail = speech_span(peak_normalised(samples), PCM_RATE_HZ)
    sizes = np.array([len(p.text) for p in chunk], dtype=np.float64)
    edges = lead + (tail - lead) * np.concatenate(([0.0], np.cumsum(sizes))) / sizes.sum()
    return [
        list(estimate_word_times(p.text, float(edges[i]), float(edges[i + 1])))
        for i, p in enumerate(chunk)
    ]


def _sentences(
    sentences: list[str], timed: list[list[Word]], duration_s: float
) -> tuple[SpokenSentence, ...]:
    """Back-to-back sentences: each starts `SENTENCE_LEAD_S` before its first word (never
    before the last word of the previous one), the last one ends with the clip."""
    starts = [0.0]
    for previous, current in pairwise(timed):
        first = current[0].start_s if current else starts[-1]
        floor = previous[-1].end_s if previous else starts[-1]
        starts.append(round(max(first - SENTENCE_LEAD_S, floor, starts[-1]), 3))
    ends = [*starts[1:], round(duration_s, 3)]
    return tuple(
        SpokenSentence(text, start, end, tuple(ws))
        for text, start, end, ws in zip(sentences, starts, ends, timed, strict=True)
    )
