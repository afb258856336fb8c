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


def segment_ass(speech: Speech, slot: SceneSlot, settings: VideoSettings) -> str:
    """The ASS script burned into one scene's segment ('' when captions are off).

    Built from scene-relative times only (the scene's speech, its lead and length), so
    it — and the segment's cache key — stays the same when other scenes change.
    """
    if not settings.captions.enabled:
        return ""
    cues = cap.scene_cues(speech, slot.voice_lead_s, settings.captions.max_words_per_cue)
    settled = cap.settle(cues, slot.frames / slot.fps)
    return cap.to_ass(settled, settings.captions, settings.aspect, settings.size, shift_s=0.0)
