"""The set of providers one render uses, and the offline defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reelforge.providers.base import ImageProvider, MusicProvider, ScriptProvider, VoiceProvider


class _Versioned(Protocol):
    id: str
    version: str


def provider_id(provider: _Versioned) -> str:
    """`id@version`: what cache keys and manifests record about a provider."""
    return f"{provider.id}@{provider.version}"


@dataclass(frozen=True, slots=True)
class Providers:
    script: ScriptProvider
    images: ImageProvider
    voice: VoiceProvider
    music: MusicProvider

    @classmethod
    def offline(cls, voices_dir: Path | None = None) -> Providers:
        """The defaults: no network, no API key."""
        from reelforge.providers.piper_voice import PiperVoices
        from reelforge.providers.procedural import ProceduralImages
        from reelforge.providers.prompt_script import PromptScript
        from reelforge.providers.synth_music import SynthMusic

        return cls(PromptScript(), ProceduralImages(), PiperVoices(voices_dir), SynthMusic())

    def ids(self) -> dict[str, str]:
        return {
            "script": provider_id(self.script),
            "images": provider_id(self.images),
            "voice": provider_id(self.voice),
            "music": provider_id(self.music),
        }
