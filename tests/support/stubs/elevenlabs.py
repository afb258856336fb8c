"""ElevenLabs' wire protocol on 127.0.0.1: the voice list and text-to-speech with timestamps.

    GET  /v1/voices                                   {"voices": [{voice_id, name, ...}]}
    POST /v1/text-to-speech/{voice_id}/with-timestamps?output_format=pcm_24000
         {"text", "model_id", "voice_settings": {..., "speed"}}
      →  {"audio_base64", "alignment": {characters, character_start_times_seconds,
          character_end_times_seconds}, "normalized_alignment": {...}}

The "speech" is a tone sounding while letters are spoken and silent on spaces and
punctuation pauses, so its length follows the text (and `speed`), and the per-character
alignment says exactly where each word is loud. A missing or wrong `xi-api-key` gets
ElevenLabs' 401 body; an unknown voice its 404; a bad body its 422.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from tests.support.stubs.base import Handler, Recorded, StubResponse, StubServer

API_KEY = "el-test-key"
VOICES = (
    {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "category": "premade",
     "labels": {"accent": "american", "gender": "female", "use_case": "narration"}},
    {"voice_id": "pNInz6obpgDQGcFmaJgB", "name": "Adam", "category": "premade",
     "labels": {"accent": "american", "gender": "male", "use_case": "narration"}},
)  # fmt: skip
LEAD_S = 0.03
TAIL_S = 0.08
_CHAR_S = {" ": 0.04, ",": 0.2, ";": 0.2, ":": 0.2, ".": 0.3, "!": 0.3, "?": 0.3}
_LETTER_S = 0.065
_OTHER_S = 0.05
_TONE_HZ = 220.0
_PCM_FORMAT = re.compile(r"pcm_(16000|22050|24000|44100)")


@dataclass(frozen=True)
class Timeline:
    """Per-character (start, end) seconds of `text` spoken at `speed`, and the clip length."""

    characters: list[str]
    starts: list[float]
    ends: list[float]
    duration_s: float


def timeline(text: str, speed: float = 1.0) -> Timeline:
    starts: list[float] = []
    ends: list[float] = []
    at = LEAD_S
    for char in text:
        length = (_LETTER_S if char.isalnum() else _CHAR_S.get(char, _OTHER_S)) / speed
        starts.append(round(at, 3))
        at += length
        ends.append(round(at, 3))
    return Timeline(list(text), starts, ends, at + TAIL_S)


def tone(spoken: Timeline, rate: int) -> bytes:
    """16-bit mono PCM: a tone under each letter, silence elsewhere."""
    samples = np.zeros(round(spoken.duration_s * rate), np.float32)
    t = np.arange(samples.size) / rate
    wave = (0.3 * np.sin(2 * np.pi * _TONE_HZ * t)).astype(np.float32)
    for char, start, end in zip(spoken.characters, spoken.starts, spoken.ends, strict=True):
        if char.isalnum():
            lo, hi = round(start * rate), round(end * rate)
            samples[lo:hi] = wave[lo:hi]
    return (samples * 32767).astype("<i2").tobytes()


def _error(status: int, code: str, message: str) -> StubResponse:
    return StubResponse(status, json={"detail": {"status": code, "message": message}})


def _authorised(request: Recorded, api_key: str) -> bool:
    return request.headers.get("xi-api-key") == api_key


def routes(api_key: str = API_KEY) -> dict[tuple[str, str], Handler]:
    bad_key = _error(401, "invalid_api_key", "Invalid API key")

    def list_voices(request: Recorded, _: re.Match[str]) -> StubResponse:
        if not _authorised(request, api_key):
            return bad_key
        return StubResponse(json={"voices": [dict(v, settings=None) for v in VOICES]})

    def speak(request: Recorded, match: re.Match[str]) -> StubResponse:
        if not _authorised(request, api_key):
            return bad_key
        voice_id = match.group("voice_id")
        if voice_id not in {v["voice_id"] for v in VOICES}:
            return _error(
                404, "voice_not_found", f"A voice with voice_id {voice_id} was not found."
            )
        output = _PCM_FORMAT.fullmatch(request.param("output_format", "mp3_44100_128") or "")
        if output is None:
            return _error(400, "invalid_output_format", "the stub speaks only pcm_* formats")
        try:
            body = request.json()
            text = body["text"]
            speed = float((body.get("voice_settings") or {}).get("speed", 1.0))
        except (ValueError, KeyError, TypeError):
            missing = {"type": "missing", "loc": ["body", "text"], "msg": "Field required"}
            return StubResponse(422, json={"detail": [missing]})
        if not isinstance(text, str) or not text.strip() or not 0.7 <= speed <= 1.2:
            return _error(400, "invalid_request", "text must not be empty; speed in 0.7-1.2")
        spoken = timeline(text, speed)
        alignment = {
            "characters": spoken.characters,
            "character_start_times_seconds": spoken.starts,
            "character_end_times_seconds": spoken.ends,
        }
        audio = base64.b64encode(tone(spoken, int(output.group(1)))).decode()
        return StubResponse(
            json={
                "audio_base64": audio,
                "alignment": alignment,
                "normalized_alignment": alignment,
            }
        )

    return {
        ("GET", r"/v1/voices"): list_voices,
        ("POST", r"/v1/text-to-speech/(?P<voice_id>[^/]+)/with-timestamps"): speak,
    }


@contextmanager
def elevenlabs_stub(api_key: str = API_KEY) -> Iterator[StubServer]:
    """A running stub; its `url` is the API root (pass it as `elevenlabs_base_url`)."""
    with StubServer(routes(api_key)) as stub:
        yield stub
