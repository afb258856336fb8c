"""Voice: each scene's narration spoken into a WAV, with its sentence and word timings."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from reelforge.engine.cache import artifact_key
from reelforge.engine.context import RenderContext
from reelforge.model.storyboard import Scene, VideoSettings
from reelforge.providers.base import Speech, SpokenSentence, Word
from reelforge.providers.registry import provider_id


def _load(folder: Path) -> Speech:
    data = json.loads((folder / "speech.json").read_text(encoding="utf-8"))
    sentences = tuple(
        SpokenSentence(s["text"], s["start_s"], s["end_s"], tuple(Word(**w) for w in s["words"]))
        for s in data["sentences"]
    )
    return Speech(folder / "speech.wav", data["duration_s"], sentences)


def speak(ctx: RenderContext, scene: Scene, settings: VideoSettings) -> tuple[str, Speech]:
    """(cache key, speech) of one scene; only the narration, voice and rate matter."""
    voice = ctx.providers.voice
    # Behind a router, key on the provider that speaks: configuring a cloud voice then
    # leaves every cached Piper clip valid.
    route = getattr(voice, "route", None)
    speaker = route(settings.voice)[0] if callable(route) else voice
    key = artifact_key(
        "voice",
        provider_id(speaker),
        {"text": scene.narration, "voice": settings.voice, "rate": settings.speaking_rate},
    )

    def build(out: Path) -> None:
        speech = voice.synthesize(
            scene.narration, voice=settings.voice, rate=settings.speaking_rate,
            out=out / "speech.wav",
        )  # fmt: skip
        payload = {
            "duration_s": speech.duration_s,
            "sentences": [asdict(s) for s in speech.sentences],
        }
        (out / "speech.json").write_text(json.dumps(payload), encoding="utf-8")

    return key, _load(ctx.cache.fetch("voice", key, build))
