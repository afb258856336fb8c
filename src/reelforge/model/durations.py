"""How long a storyboard will last, known before any voice speaks it.

The timeline (`engine/timeline.py`) gives each scene its narration plus a short lead and
tail, at least `MIN_SCENE_S`, and at least its own `duration_s`. Narration is timed only
once it is spoken, so before that a scene's length is bounded from below with the fastest
pace any voice reads at: a storyboard refused on this bound could never fit, and one
accepted is checked again on the real timeline.
"""

from __future__ import annotations

from reelforge.model.storyboard import Scene, Storyboard
from reelforge.model.text import count_words

VOICE_LEAD_S = 0.1
VOICE_TAIL_S = 0.15
MIN_SCENE_S = 2.0
WORDS_PER_SECOND = 2.6
"""Piper's bundled voice at rate 1.0 speaks about 155 words a minute."""
FASTEST_WORDS_PER_SECOND = 5.0
"""300 words a minute at rate 1.0: faster than any voice we drive (the bundled Piper voice
measured 3.2-3.8 words a second, OpenAI and ElevenLabs speak ~150-180 words a minute), so
narration never takes less than its words at this pace."""


def shortest_narration_s(text: str, speaking_rate: float) -> float:
    """A lower bound on the video of `text` narrated in one scene or more (seconds)."""
    spoken = count_words(text) / (FASTEST_WORDS_PER_SECOND * speaking_rate)
    return max(VOICE_LEAD_S + spoken + VOICE_TAIL_S, MIN_SCENE_S)


def shortest_scene_s(scene: Scene, speaking_rate: float) -> float:
    """A lower bound on the scene's length in the video (seconds)."""
    explicit = 0.0 if scene.duration_s == "auto" else scene.duration_s
    return max(shortest_narration_s(scene.narration, speaking_rate), explicit)


def shortest_duration_s(storyboard: Storyboard) -> float:
    """A lower bound on the whole video's length (seconds): the rendered video is never
    shorter, whatever the voice."""
    rate = storyboard.settings.speaking_rate
    return sum(shortest_scene_s(scene, rate) for scene in storyboard.scenes)
