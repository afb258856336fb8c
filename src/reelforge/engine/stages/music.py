"""Music: the synthesised bed for the mood, or the user's own audio file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reelforge.engine.cache import artifact_key, file_digest
from reelforge.engine.context import RenderContext
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.registry import provider_id

MUSIC_BLOCK_S = 15
"""The bed is made in whole blocks, so small timing edits reuse the cached one."""
TARGET_SPARE = 1.25
"""The bed lasts at least the video's target duration and a quarter: a narration edit that
makes the video longer or shorter within that reuses the cached bed (the mix fades the music
out at the video's end, wherever the bed would end)."""


@dataclass(frozen=True, slots=True)
class MusicBed:
    key: str
    path: Path | None
    """None when music is off."""
    loop: bool
    """A user's file is looped to length; a synthesised bed is already long enough."""


def music_bed(ctx: RenderContext, settings: VideoSettings, duration_s: float) -> MusicBed:
    music = settings.music
    if not music.enabled:
        return MusicBed("none", None, loop=False)
    if music.file is not None:
        return MusicBed(file_digest(music.file), music.file, loop=True)
    covered = max(duration_s + 1, settings.target_duration_s * TARGET_SPARE)
    seconds = -(-int(covered) // MUSIC_BLOCK_S) * MUSIC_BLOCK_S
    synth = ctx.providers.music
    key = artifact_key(
        "music", provider_id(synth), {"mood": music.mood, "seconds": seconds, "seed": settings.seed}
    )

    def build(out: Path) -> None:
        synth.compose(music.mood, float(seconds), settings.seed, out / "music.wav")

    return MusicBed(key, ctx.cache.fetch("music", key, build) / "music.wav", loop=False)
