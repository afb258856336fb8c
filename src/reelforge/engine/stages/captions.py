"""Captions: cues on the video's timeline from each scene's speech, and one ASS per segment."""

from __future__ import annotations

from reelforge.engine import captions as cap
from reelforge.engine.timeline import SceneSlot, Timeline
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import Speech


def timed_cues(
    speeches: list[Speech], timeline: Timeline, settings: VideoSettings
) -> list[cap.Cue]:
    """All cues of the video, in order, each held briefly but never over the next."""
    cues = [
        cue
        for speech, slot in zip(speeches, timeline.slots, strict=True)
        for cue in cap.scene_cues(speech, slot.voice_offset_s, settings.captions.max_words_per_cue)
    ]
    return cap.settle(cues, timeline.duration_s)


def scene_captions(speech: Speech, slot: SceneSlot, settings: VideoSettings) -> list[cap.Cue]:
    """The cues burned into one scene, timed from the scene's start (none when captions are
    off).

    Scene-relative times only (the scene's speech, its lead and length), so they — and the
    scene's segment cache keys — stay the same when other scenes change.
    """
    if not settings.captions.enabled:
        return []
    cues = cap.scene_cues(speech, slot.voice_lead_s, settings.captions.max_words_per_cue)
    return cap.settle(cues, slot.frames / slot.fps)


def segment_ass(speech: Speech, slot: SceneSlot, settings: VideoSettings) -> str:
    """The ASS script of one scene on its own ('' when captions are off)."""
    if not settings.captions.enabled:
        return ""
    cues = scene_captions(speech, slot, settings)
    return cap.to_ass(cues, settings.captions, settings.aspect, settings.size, shift_s=0.0)
