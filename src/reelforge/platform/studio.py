"""What the create flow asks before a render: which voices there are (with a short spoken
sample of each offline one) and what a render of given settings will take and cost."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import NotFound
from reelforge.model.storyboard import VideoSettings
from reelforge.platform.providers import EstimateLine, estimate, prices_for
from reelforge.providers.registry import Providers
from reelforge.settings import Settings

SAMPLE_TEXT = "Hello! This is how your video will sound."
REALTIME_FACTOR = {"480p": 6.0, "720p": 3.6, "1080p": 1.7}
"""Seconds of video rendered per second of wall time on 2 cores (bench/RESULTS.md)."""
START_S = 2.0
"""A render's fixed cost: loading the voice model, planning, the final join."""
STOCK_SOURCES = ("pexels", "pixabay")
_sample_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    id: str
    label: str
    vendor: str
    has_sample: bool


@dataclass(frozen=True, slots=True)
class RenderEstimate:
    render_seconds: float
    cost_usd: float
    lines: list[EstimateLine]
    script: str
    """`prompt`: narrated as written; `llm`: a language model writes the script first."""
    stock_available: bool


def offline_voices(settings: Settings) -> list[VoiceInfo]:
    """The voices every server has (Piper models), each with a spoken sample."""
    names = Providers.offline(voices_dir=settings.providers.voices_dir).voice.voices()
    return [VoiceInfo(name, name.replace("_", " ").title(), "piper", True) for name in names]


def voice_sample(settings: Settings, voice: str) -> Path:
    """A WAV of `voice` saying `SAMPLE_TEXT`, made once and kept in the cache folder."""
    known = {info.id for info in offline_voices(settings)}
    if voice not in known:
        raise NotFound(f"no sample for voice {voice!r}; voices: {', '.join(sorted(known))}")
    out = settings.cache_dir / "voice-samples" / f"{voice}.wav"
    with _sample_lock:
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            partial = out.with_suffix(".part.wav")
            voice_provider = Providers.offline(voices_dir=settings.providers.voices_dir).voice
            voice_provider.synthesize(SAMPLE_TEXT, voice=voice, rate=1.0, out=partial)
            partial.replace(out)
    return out


def estimate_render(
    providers: Providers, settings: Settings, video: VideoSettings, prompt: str
) -> RenderEstimate:
    """Render time from the measured realtime factor; cost from `platform.providers.estimate`."""
    lines = estimate(providers, video, prompt, prices=prices_for(settings.providers))
    seconds = START_S + video.target_duration_s / REALTIME_FACTOR[video.resolution.value]
    script = "prompt" if providers.script.id == "prompt" else "llm"
    stock = any(source.id.removesuffix("-video") in STOCK_SOURCES for source in providers.visuals)
    return RenderEstimate(
        render_seconds=round(seconds, 1),
        cost_usd=round(sum(line.cost_usd for line in lines), 4),
        lines=lines,
        script=script,
        stock_available=stock,
    )
