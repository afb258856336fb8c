"""VoiceRouter: prefixes pick the provider, plain names the default, ids change with routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reelforge.errors import InvalidInput, ProviderError
from reelforge.providers.base import Speech, SpokenSentence, VoiceProvider
from reelforge.providers.registry import provider_id
from reelforge.providers.voice_router import VoiceRouter


@dataclass
class FakeVoices:
    id: str
    names: list[str]
    version: str = "1"
    spoken: list[tuple[str, str, float]] = field(default_factory=list)
    down: bool = False

    def voices(self) -> list[str]:
        if self.down:
            raise ProviderError(f"{self.id} is down")
        return list(self.names)

    def synthesize(self, text: str, *, voice: str, rate: float, out: Path) -> Speech:
        self.spoken.append((text, voice, rate))
        return Speech(out, 1.0, (SpokenSentence(text, 0.0, 1.0),))


@dataclass
class FakeWithIds(FakeVoices):
    ids: dict[str, str] = field(default_factory=dict)

    def knows(self, voice: str) -> bool:
        return voice in self.names or voice in self.ids.values()


def _router() -> tuple[VoiceRouter, FakeVoices, FakeVoices, FakeWithIds]:
    piper = FakeVoices("piper", ["joe", "amy"])
    openai = FakeVoices("openai-tts", ["alloy", "nova"], version="1+gpt-4o-mini-tts")
    eleven = FakeWithIds("elevenlabs", ["Rachel"], ids={"Rachel": "21m00Tcm4TlvDq8ikWAM"})
    return VoiceRouter(piper, {"openai": openai, "elevenlabs": eleven}), piper, openai, eleven


def test_is_a_voice_provider() -> None:
    router: VoiceProvider = _router()[0]
    assert router.id == "voice-router"


def test_lists_every_voice_with_its_prefix() -> None:
    router = _router()[0]
    assert router.voices() == ["joe", "amy", "elevenlabs/Rachel", "openai/alloy", "openai/nova"]


@pytest.mark.parametrize(
    ("voice", "provider", "name"),
    [
        ("joe", "piper", "joe"),
        ("openai/nova", "openai-tts", "nova"),
        ("elevenlabs/Rachel", "elevenlabs", "Rachel"),
        ("elevenlabs/21m00Tcm4TlvDq8ikWAM", "elevenlabs", "21m00Tcm4TlvDq8ikWAM"),
    ],
)
def test_routes_by_prefix(voice: str, provider: str, name: str, tmp_path: Path) -> None:
    router, *fakes = _router()
    speech = router.synthesize("Hi.", voice=voice, rate=1.5, out=tmp_path / "a.wav")
    assert speech.path == tmp_path / "a.wav"
    (used,) = [f for f in fakes if f.spoken]
    assert used.id == provider and used.spoken == [("Hi.", name, 1.5)]


@pytest.mark.parametrize("voice", ["nobody", "openai/nobody", "elevenlabs/Monica"])
def test_unknown_voice_lists_what_exists(voice: str, tmp_path: Path) -> None:
    router, *fakes = _router()
    with pytest.raises(InvalidInput, match=f"unknown voice '{voice}'.*joe.*openai/alloy"):
        router.synthesize("Hi.", voice=voice, rate=1.0, out=tmp_path / "a.wav")
    assert not any(f.spoken for f in fakes)


def test_unconfigured_prefix_says_so(tmp_path: Path) -> None:
    router = _router()[0]
    with pytest.raises(InvalidInput, match="'azure' voice provider, which is not configured"):
        router.synthesize("Hi.", voice="azure/jenny", rate=1.0, out=tmp_path / "a.wav")


def test_a_vendor_that_cannot_list_is_left_out(tmp_path: Path) -> None:
    router, _, openai, _ = _router()
    openai.down = True
    assert router.voices() == ["joe", "amy", "elevenlabs/Rachel"]
    with pytest.raises(InvalidInput, match=r"available: joe, amy, elevenlabs/Rachel$"):
        router.synthesize("Hi.", voice="nobody", rate=1.0, out=tmp_path / "a.wav")


def test_id_changes_when_a_routed_provider_changes() -> None:
    router, piper, openai, eleven = _router()
    before = provider_id(router)
    openai.version = "1+tts-1-hd"
    changed = provider_id(VoiceRouter(piper, {"openai": openai, "elevenlabs": eleven}))
    fewer = provider_id(VoiceRouter(piper, {"openai": openai}))
    assert len({before, changed, fewer}) == 3
    assert "openai=openai-tts@1+tts-1-hd" in changed


def test_without_routes_it_is_the_default_and_keeps_its_cache_keys() -> None:
    piper = FakeVoices("piper", ["joe"])
    assert provider_id(VoiceRouter(piper, {})) == provider_id(piper) == "piper@1"


def test_rejects_a_prefix_with_a_slash() -> None:
    with pytest.raises(InvalidInput):
        VoiceRouter(FakeVoices("piper", ["joe"]), {"a/b": FakeVoices("x", [])})
