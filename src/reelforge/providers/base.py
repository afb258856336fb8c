"""One small protocol per capability the pipeline needs.

Every provider has an `id` and a `version`: both go into the artifact cache
key, so bumping `version` when output changes invalidates old artifacts.
Providers write files and return plain values; they never touch settings,
the database or the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reelforge.model.storyboard import MusicMood, Scene, VideoSettings


@dataclass(frozen=True, slots=True)
class Script:
    """What a script provider returns: the narration, split or not into scenes."""

    title: str
    narration: str
    topic_only: bool = False
    """True when the prompt was a topic, not a script: the narration is only the prompt."""
    scenes: tuple[Scene, ...] = ()
    """Pre-planned scenes (an LLM may plan them); empty means the engine splits."""


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class SpokenSentence:
    """One sentence of speech: exact start/end in the clip, estimated word times."""

    text: str
    start_s: float
    end_s: float
    words: tuple[Word, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Speech:
    """A synthesised narration clip written as a WAV file."""

    path: Path
    duration_s: float
    sentences: tuple[SpokenSentence, ...]


@dataclass(frozen=True, slots=True)
class Attribution:
    """Credit for a stock photo or clip, recorded in the manifest (licences ask for it)."""

    source: str
    author: str
    url: str
    license: str = ""


@dataclass(frozen=True, slots=True)
class VisualAsset:
    """A scene's picture from a visual source: a still image or a video clip file."""

    path: Path
    is_video: bool = False
    attribution: Attribution | None = None


class ScriptProvider(Protocol):
    id: str
    version: str

    def write(self, prompt: str, settings: VideoSettings) -> Script: ...


class ImageProvider(Protocol):
    id: str
    version: str

    def render(
        self, scene: Scene, index: int, settings: VideoSettings, size: tuple[int, int], out: Path
    ) -> None:
        """Write an RGB image of exactly `size` (width, height) to `out` (PNG)."""


class VisualSource(Protocol):
    """One link of a scene's fallback chain (stock video → generated image → procedural)."""

    id: str
    version: str

    def find(
        self,
        scene: Scene,
        index: int,
        settings: VideoSettings,
        size: tuple[int, int],
        out_dir: Path,
    ) -> VisualAsset | None:
        """Write the scene's visual into `out_dir` (any size: the engine fills and crops),
        or return None when this source has nothing that fits, so the next one is tried.

        Raises:
            InvalidInput: bad key or request (not retried). ProviderError: the call failed.
        """


class VoiceProvider(Protocol):
    id: str
    version: str

    def voices(self) -> list[str]: ...

    def synthesize(self, text: str, *, voice: str, rate: float, out: Path) -> Speech:
        """Speak `text` into a WAV at `out`; sentence times are exact, word times estimated."""


class MusicProvider(Protocol):
    id: str
    version: str

    def compose(self, mood: MusicMood, duration_s: float, seed: int, out: Path) -> None:
        """Write a 48 kHz stereo 16-bit WAV of exactly `duration_s` seconds to `out`."""
