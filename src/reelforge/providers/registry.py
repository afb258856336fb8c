"""The set of providers one render uses, and the offline defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reelforge.providers.base import (
    ImageProvider,
    MusicProvider,
    ScriptProvider,
    VisualSource,
    VoiceProvider,
)
from reelforge.providers.usage import Meter


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
    """The last resort for every scene: always produces a picture (procedural offline)."""
    voice: VoiceProvider
    music: MusicProvider
    visuals: tuple[VisualSource, ...] = ()
    """Tried in order for each generated/stock scene before `images`."""
    meter: Meter = field(default_factory=Meter)
    """Usage and cost of the remote calls this render made."""

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
            "visuals": ",".join(provider_id(source) for source in self.visuals),
            "voice": provider_id(self.voice),
            "music": provider_id(self.music),
        }
