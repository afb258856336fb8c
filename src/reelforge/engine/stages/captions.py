"""Captions: cues on the video's timeline from each scene's speech, and one ASS per segment."""

from __future__ import annotations

from reelforge.engine import captions as cap
from reelforge.engine.storyboard import VideoSettings
from reelforge.engine.timeline import Timeline
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


def segment_ass(
    cues: list[cap.Cue], timeline: Timeline, index: int, settings: VideoSettings
) -> str:
    """The ASS script burned into scene `index`'s segment ('' when captions are off)."""
    if not settings.captions.enabled:
        return ""
    slot = timeline.slots[index]
    start_s, end_s = slot.start_frame / timeline.fps, slot.end_frame / timeline.fps
    mine = [c for c in cues if start_s <= c.start_s < end_s]
    return cap.to_ass(mine, settings.captions, settings.aspect, settings.size, start_s)
