"""Contract tests of the cloud voices over real HTTP against local wire-protocol stubs.

OpenAI speech is served by a minimal handler defined here until the shared OpenAI stub
(tests/support/stubs/openai.py) exists; ElevenLabs by tests/support/stubs/elevenlabs.py.
"""

from __future__ import annotations

import base64
import re
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from reelforge.errors import InvalidInput, ProviderError
from reelforge.providers.base import Speech, VoiceProvider
from reelforge.providers.elevenlabs import ElevenLabsVoices
from reelforge.providers.http import ClientOptions, RetryPolicy
from reelforge.providers.openai_tts import MAX_INPUT_CHARS, OpenAIVoices
from reelforge.providers.usage import Meter, Prices
from tests.support.stubs import elevenlabs as el
from tests.support.stubs.base import Recorded, StubResponse, StubServer

OPENAI_KEY = "sk-test"
OPENAI_BAD_KEY = {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
ATTEMPTS = 3
TEXT = "Dr. Lee opened the lab at dawn. It was raining, again. Nobody came."
SENTENCES = ["Dr. Lee opened the lab at dawn.", "It was raining, again.", "Nobody came."]


def _openai_speech(request: Recorded, _: re.Match[str]) -> StubResponse:
    """POST /v1/audio/speech: a 24 kHz PCM tone as long as the input, edges silent."""
    if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
        return StubResponse(401, json=OPENAI_BAD_KEY)
    body = request.json()
    if len(body["input"]) > MAX_INPUT_CHARS or not 0.25 <= body["speed"] <= 4.0:
        return StubResponse(400, json={"error": {"message": "bad input or speed"}})
    spoken = el.timeline(body["input"], body["speed"])
    return StubResponse(body=el.tone(spoken, 24_000), content_type="audio/pcm")


PRICES = Prices({"openai-tts": {"characters": 15.0}, "elevenlabs": {"characters": 180.0}})
VOICE = {"openai": "alloy", "elevenlabs": "Rachel"}
SPEAK_PATH = {"openai": "/v1/audio/speech", "elevenlabs": "/v1/text-to-speech/"}


@dataclass
class Vendor:
    name: str
    stub: StubServer
    meter: Meter = field(default_factory=lambda: Meter(PRICES))
    sleeps: list[float] = field(default_factory=list)
    voice: str = field(init=False)
    speak_path: str = field(init=False)

    def __post_init__(self) -> None:
        self.voice, self.speak_path = VOICE[self.name], SPEAK_PATH[self.name]
        self.stub.requests.clear()  # the servers live for the module

    def provider(self, *, key: str | None = None, **options: Any) -> VoiceProvider:
        retry = RetryPolicy(attempts=ATTEMPTS, base_delay_s=0)
        common: dict[str, Any] = {
            "meter": self.meter, "options": ClientOptions(retry=retry, sleep=self.sleeps.append),
        }  # fmt: skip
        if self.name == "openai":
            return OpenAIVoices(
                self.stub.url + "/v1", key or OPENAI_KEY, "gpt-4o-mini-tts", **common, **options
            )
        return ElevenLabsVoices(self.stub.url, key or el.API_KEY, **common, **options)

    def speak(
        self, folder: Path, text: str = TEXT, voice: str = "", rate: float = 1.0, **options: Any
    ) -> Speech:
        voices = self.provider(**options)
        return voices.synthesize(text, voice=voice or self.voice, rate=rate, out=folder / "a.wav")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, StubServer]]:
    """One server per vendor for the module: stopping one takes 0.5 s."""
    openai = StubServer({("POST", r"/v1/audio/speech"): _openai_speech})
    with openai, el.elevenlabs_stub() as eleven:
        yield {"openai": openai, "elevenlabs": eleven}


@pytest.fixture(params=["openai", "elevenlabs"])
def vendor(request: pytest.FixtureRequest, servers: dict[str, StubServer]) -> Vendor:
    return Vendor(request.param, servers[request.param])


@pytest.fixture
def openai(servers: dict[str, StubServer]) -> Vendor:
    return Vendor("openai", servers["openai"])


@pytest.fixture
def eleven(servers: dict[str, StubServer]) -> Vendor:
    return Vendor("elevenlabs", servers["elevenlabs"])


def _samples(path: Path) -> tuple[NDArray[np.float32], int]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return (pcm / 32768).astype(np.float32), wav.getframerate()


def _check_speech(speech: Speech, sentences: list[str]) -> None:
    assert [s.text for s in speech.sentences] == sentences
    assert speech.sentences[0].start_s == 0.0
    assert speech.sentences[-1].end_s == pytest.approx(speech.duration_s, abs=1e-3)
    for a, b in pairwise(speech.sentences):
        assert a.end_s == b.start_s  # back to back, in order
    for s in speech.sentences:
        assert s.start_s < s.end_s
        assert " ".join(w.text for w in s.words) == s.text
        assert all(s.start_s <= w.start_s < w.end_s <= s.end_s for w in s.words)
        assert all(a.end_s <= b.start_s for a, b in pairwise(s.words))
    samples, rate = _samples(speech.path)
    assert rate == 24_000 and len(samples) / rate == pytest.approx(speech.duration_s)
    with av.open(str(speech.path)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("pcm_s16le", 24_000, 1)


# --- the contract both vendors keep ------------------------------------------------------


def test_speech_covers_the_text_in_order_with_a_probing_wav(vendor: Vendor, tmp_path: Path) -> None:
    speech = vendor.speak(tmp_path)
    _check_speech(speech, SENTENCES)
    samples, rate = _samples(speech.path)
    assert np.abs(samples[: round(0.045 * rate)]).max() < 0.01  # Piper's edge silence
    assert np.abs(samples[-round(0.13 * rate) :]).max() < 0.01
    for sentence in speech.sentences:
        first, last = sentence.words[0], sentence.words[-1]
        assert np.abs(samples[round(first.start_s * rate) : round(last.end_s * rate)]).max() > 0.1


def test_bad_key_is_invalid_input_without_retry(vendor: Vendor, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="refused the API key"):
        vendor.speak(tmp_path, key="wrong")
    sent = [(r.method, r.path, r.body) for r in vendor.stub.requests]
    assert len(sent) == len(set(sent)) and vendor.sleeps == []  # nothing sent twice


def test_rate_limit_is_retried_after_the_servers_delay(vendor: Vendor, tmp_path: Path) -> None:
    provider = vendor.provider()
    provider.voices()  # ElevenLabs lists voices first; fail the speech call itself
    vendor.stub.fail_next(vendor.speak_path, StubResponse(429, headers={"Retry-After": "2"}))
    speech = provider.synthesize("One. Two.", voice=vendor.voice, rate=1.0, out=tmp_path / "a.wav")
    assert [s.text for s in speech.sentences] == ["One.", "Two."]
    assert vendor.sleeps == [2.0]


def test_server_errors_are_retried_then_a_provider_error(vendor: Vendor, tmp_path: Path) -> None:
    provider = vendor.provider()
    provider.voices()
    vendor.stub.fail_next(vendor.speak_path, *[StubResponse(500)] * ATTEMPTS)
    with pytest.raises(ProviderError, match=f"after {ATTEMPTS} attempts"):
        provider.synthesize("Only one.", voice=vendor.voice, rate=1.0, out=tmp_path / "a.wav")
    assert vendor.stub.count("POST", vendor.speak_path) == ATTEMPTS


def test_every_request_is_metered_by_characters(vendor: Vendor, tmp_path: Path) -> None:
    vendor.speak(tmp_path)
    sent = [
        r.json()["input" if vendor.name == "openai" else "text"]
        for r in vendor.stub.matching("POST", vendor.speak_path)
    ]
    provider_id = "openai-tts" if vendor.name == "openai" else "elevenlabs"
    calls = [(c.provider, c.operation) for c in vendor.meter.calls]
    assert calls == [(provider_id, "speech")] * len(sent)
    assert sum(c.units["characters"] for c in vendor.meter.calls) == sum(map(len, sent))
    assert vendor.meter.cost_usd > 0


def test_unknown_voice_lists_the_voices(vendor: Vendor, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=f"unknown voice 'nobody'.*{vendor.voice}"):
        vendor.provider().synthesize(TEXT, voice="nobody", rate=1.0, out=tmp_path / "a.wav")
    assert vendor.stub.count("POST") == 0


# --- OpenAI ------------------------------------------------------------------------------


def test_openai_sends_one_request_per_sentence(openai: Vendor, tmp_path: Path) -> None:
    voices = openai.provider()
    voices.synthesize(TEXT, voice="nova", rate=1.25, out=tmp_path / "a.wav")
    sent = openai.stub.matching("POST", "/v1/audio/speech")
    assert sorted(r.json()["input"] for r in sent) == sorted(SENTENCES)
    for request in sent:
        assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert request.headers["content-type"] == "application/json"
        body = request.json()
        assert {k: body[k] for k in ("model", "voice", "speed", "response_format")} == {
            "model": "gpt-4o-mini-tts", "voice": "nova", "speed": 1.25, "response_format": "pcm",
        }  # fmt: skip
    voices.synthesize("Fast.", voice="echo", rate=9.0, out=tmp_path / "b.wav")
    assert openai.stub.requests[-1].json()["speed"] == 4.0  # clamped to the API's range


def test_openai_cuts_an_overlong_sentence_at_spaces(openai: Vendor, tmp_path: Path) -> None:
    long_sentence = " ".join(["word"] * 1500) + "."  # 7 500 characters, one sentence
    speech = openai.speak(tmp_path, f"Short one. {long_sentence}")
    inputs = [r.json()["input"] for r in openai.stub.requests]
    assert len(inputs) == 3 and all(len(i) <= MAX_INPUT_CHARS for i in inputs)
    assert min(inputs, key=len) == "Short one."
    _check_speech(speech, ["Short one.", long_sentence])


def test_openai_reads_a_wav_from_a_compatible_server(tmp_path: Path) -> None:
    """Some compatible servers ignore `pcm` and send a streamed WAV at their own rate."""
    wav_path = tmp_path / "server.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setparams((2, 2, 22_050, 0, "NONE", "not compressed"))
        wav.writeframes((np.full((22_050, 2), 8000, "<i2")).tobytes())
    streamed = bytearray(wav_path.read_bytes())
    streamed[40:44] = b"\xff\xff\xff\xff"  # the placeholder length of a streamed WAV

    def speech(request: Recorded, _: re.Match[str]) -> StubResponse:
        return StubResponse(body=bytes(streamed), content_type="audio/wav")

    with StubServer({("POST", r"/v1/audio/speech"): speech}) as stub:
        voices = Vendor("openai", stub).provider()
        result = voices.synthesize("Hello.", voice="alloy", rate=1.0, out=tmp_path / "a.wav")
    _check_speech(result, ["Hello."])
    assert result.duration_s == pytest.approx(1.0 + 0.05 + 0.14, abs=0.02)


# --- ElevenLabs --------------------------------------------------------------------------


def test_elevenlabs_lists_voices_once(eleven: Vendor) -> None:
    voices = eleven.provider()
    assert voices.voices() == ["Rachel", "Adam"]
    assert voices.voices() == ["Rachel", "Adam"]
    (listed,) = eleven.stub.matching("GET", "/v1/voices")
    assert listed.headers["xi-api-key"] == el.API_KEY


def test_elevenlabs_request_shape(eleven: Vendor, tmp_path: Path) -> None:
    eleven.speak(tmp_path, voice="adam", rate=2.0, model_id="eleven_flash_v2_5")
    (request,) = eleven.stub.matching("POST")
    assert request.path == "/v1/text-to-speech/pNInz6obpgDQGcFmaJgB/with-timestamps"
    assert request.param("output_format") == "pcm_24000"
    assert request.headers["xi-api-key"] == el.API_KEY
    body = request.json()
    assert (body["text"], body["model_id"]) == (TEXT, "eleven_flash_v2_5")
    assert body["voice_settings"]["speed"] == 1.2  # clamped to what ElevenLabs accepts
    assert "previous_text" not in body and "next_text" not in body


def test_elevenlabs_chunks_long_text_at_sentence_boundaries(eleven: Vendor, tmp_path: Path) -> None:
    speech = eleven.speak(tmp_path, voice="21m00Tcm4TlvDq8ikWAM", chunk_chars=40)
    bodies = [r.json() for r in eleven.stub.matching("POST")]
    assert sorted(b["text"] for b in bodies) == sorted([SENTENCES[0], " ".join(SENTENCES[1:])])
    by_text = {b["text"]: b for b in bodies}
    assert by_text[SENTENCES[0]]["next_text"] == " ".join(SENTENCES[1:])
    assert by_text[" ".join(SENTENCES[1:])]["previous_text"] == SENTENCES[0]
    _check_speech(speech, SENTENCES)


def test_elevenlabs_word_times_are_the_alignment(eleven: Vendor, tmp_path: Path) -> None:
    speech = eleven.speak(tmp_path)
    spoken = el.timeline(TEXT)
    shift = 0.05 - el.LEAD_S  # padded up to Piper's lead silence
    cursor = 0
    for word in (w for s in speech.sentences for w in s.words):
        first = TEXT.index(word.text, cursor)
        cursor = first + len(word.text)
        last = first + len(word.text.rstrip(".,"))  # timed to its last letter, not the pause
        assert word.start_s == pytest.approx(spoken.starts[first] + shift, abs=2e-3)
        assert word.end_s == pytest.approx(spoken.ends[last - 1] + shift, abs=2e-3)
    samples, rate = _samples(speech.path)
    for word in (w for s in speech.sentences for w in s.words):  # heard where it is placed
        middle = round((word.start_s + word.end_s) / 2 * rate)
        assert np.abs(samples[middle - 240 : middle + 240]).max() > 0.1
    for before, sentence in pairwise(speech.sentences):  # Piper's lead, or the whole pause
        lead = sentence.words[0].start_s - 0.05
        assert sentence.start_s == pytest.approx(max(lead, before.words[-1].end_s), abs=2e-3)


def test_elevenlabs_without_alignment_estimates_words(eleven: Vendor, tmp_path: Path) -> None:
    voices = eleven.provider()
    voices.voices()
    audio = el.tone(el.timeline(TEXT), 24_000)
    bare = StubResponse(json={"audio_base64": base64.b64encode(audio).decode()})
    eleven.stub.fail_next("/v1/text-to-speech/", bare)
    speech = voices.synthesize(TEXT, voice="Rachel", rate=1.0, out=tmp_path / "a.wav")
    _check_speech(speech, SENTENCES)
