"""Audio plumbing shared by the cloud voices (OpenAI, ElevenLabs): request pieces cut at
spaces, 16-bit PCM in, Piper-like edge silence, and 16-bit mono WAV out.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from reelforge.providers.piper_voice import speech_span

PCM_RATE_HZ = 24_000
"""The rate both vendors are asked for (raw 16-bit mono PCM)."""
PIPER_LEAD_S = 0.05
PIPER_TAIL_S = 0.14
"""Silence Piper leaves before and after each sentence (measured, notes/voice.md): cloud
clips are padded up to it so sentences are spaced the same whatever the voice."""


def peak_normalised(clip: NDArray[np.float32]) -> NDArray[np.float32]:
    """`speech_span` expects Piper's 0 dBFS sentences; cloud clips are not normalised."""
    peak = float(np.abs(clip).max()) if clip.size else 0.0
    return clip / peak if peak > 0 else clip


@dataclass(frozen=True, slots=True)
class Piece:
    """Text sent in one request (or packed into one): all or part of sentence `sentence`."""

    sentence: int
    text: str


def sentence_pieces(sentences: Sequence[str], limit: int) -> list[Piece]:
    """Each sentence as one piece, or cut at spaces into pieces of at most `limit` chars."""
    pieces: list[Piece] = []
    for index, sentence in enumerate(sentences):
        current = ""
        for word in sentence.split():
            while len(word) > limit:  # no space to cut at: cut the word itself
                if current:
                    pieces.append(Piece(index, current))
                    current = ""
                pieces.append(Piece(index, word[:limit]))
                word = word[limit:]
            if current and len(current) + 1 + len(word) > limit:
                pieces.append(Piece(index, current))
                current = ""
            current = f"{current} {word}" if current else word
        if current:
            pieces.append(Piece(index, current))
    return pieces


def pad_like_piper(clip: NDArray[np.float32], rate: int) -> tuple[NDArray[np.float32], int]:
    """`clip` with silence added where its own edges are shorter than Piper's, and how
    many samples were put before it."""
    lead, tail = speech_span(peak_normalised(clip), rate)
    duration = len(clip) / rate
    before = round(max(0.0, PIPER_LEAD_S - lead) * rate)
    after = round(max(0.0, PIPER_TAIL_S - (duration - tail)) * rate)
    silence = np.zeros(before, np.float32), np.zeros(after, np.float32)
    return np.concatenate([silence[0], clip.astype(np.float32), silence[1]]), before


def pcm16_samples(data: bytes) -> NDArray[np.float32]:
    """Signed 16-bit little-endian PCM as floats in [-1, 1] (an odd trailing byte is dropped)."""
    usable = len(data) // 2 * 2
    return (np.frombuffer(data[:usable], "<i2").astype(np.float32) / 32768.0).astype(np.float32)


def write_wav(out: Path, samples: NDArray[np.float32], rate: int) -> None:
    """A 16-bit mono WAV, as Piper writes its clips."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
