"""The timeline: where every scene and voice clip sits, in whole frames.

Integer frame counts (not float seconds) make segment boundaries exact, so
separately encoded scene segments concatenate without drift, and the audio
is cut to exactly the video's length.

A scene's slot is its narration plus a short lead and tail. A fade into
scene *i* happens over the first frames of scene *i*, blending in the
continued motion of scene *i-1*, so segment *i* depends only on scenes
*i-1* and *i* — an edit re-encodes at most two segments.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.model.durations import MIN_SCENE_S as MIN_SCENE_S  # shared with the bound
from reelforge.model.durations import VOICE_LEAD_S as VOICE_LEAD_S
from reelforge.model.durations import VOICE_TAIL_S as VOICE_TAIL_S
from reelforge.model.storyboard import Storyboard, Transition

FADE_S = 0.5
FADE_FROM_BLACK_S = 0.3
FADE_TO_BLACK_S = 0.6


@dataclass(frozen=True, slots=True)
class SceneSlot:
    index: int
    start_frame: int
    frames: int
    fade_in_frames: int
    """Frames at the start blended from the previous scene (0 = hard cut or first scene)."""
    voice_lead_frames: int
    """Frames from the scene's start to its narration's start."""
    fps: int

    @property
    def voice_lead_s(self) -> float:
        """Narration start within the scene: independent of where the scene sits in the video,
        so a scene's own captions do not change when an earlier scene does."""
        return self.voice_lead_frames / self.fps

    @property
    def voice_offset_s(self) -> float:
        """Where this scene's narration starts, from the start of the video."""
        return (self.start_frame + self.voice_lead_frames) / self.fps

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frames


@dataclass(frozen=True, slots=True)
class Timeline:
    fps: int
    slots: tuple[SceneSlot, ...]

    @property
    def total_frames(self) -> int:
        return self.slots[-1].end_frame if self.slots else 0

    @property
    def duration_s(self) -> float:
        return self.total_frames / self.fps

    def start_s(self, index: int) -> float:
        return self.slots[index].start_frame / self.fps


def build_timeline(storyboard: Storyboard, voice_durations_s: list[float]) -> Timeline:
    """Lay the scenes end to end; a fixed scene duration never cuts its narration short."""
    fps = storyboard.settings.fps
    fade = round(FADE_S * fps)
    slots: list[SceneSlot] = []
    start = 0
    for index, (scene, voice_s) in enumerate(
        zip(storyboard.scenes, voice_durations_s, strict=True)
    ):
        needed = max(VOICE_LEAD_S + voice_s + VOICE_TAIL_S, MIN_SCENE_S)
        wanted = needed if scene.duration_s == "auto" else max(scene.duration_s, needed)
        frames = round(wanted * fps)
        fade_in = fade if index > 0 and scene.transition is Transition.FADE else 0
        lead = round(VOICE_LEAD_S * fps)
        slots.append(SceneSlot(index, start, frames, min(fade_in, frames // 2), lead, fps))
        start += frames
    return Timeline(fps=fps, slots=tuple(slots))
