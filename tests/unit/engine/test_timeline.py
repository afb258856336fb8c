from __future__ import annotations

from itertools import pairwise

from reelforge.engine.timeline import MIN_SCENE_S, VOICE_LEAD_S, build_timeline
from reelforge.model.storyboard import Scene, Storyboard, Transition, VideoSettings


def _board(*scenes: Scene, fps: int = 30) -> Storyboard:
    return Storyboard(settings=VideoSettings(fps=fps), scenes=scenes)


def test_scenes_are_laid_end_to_end_in_whole_frames() -> None:
    board = _board(Scene(narration="a"), Scene(narration="b"), Scene(narration="c"), fps=25)
    timeline = build_timeline(board, [3.0, 4.21, 2.5])
    assert timeline.slots[0].start_frame == 0
    for a, b in pairwise(timeline.slots):
        assert b.start_frame == a.end_frame
    assert timeline.total_frames == sum(s.frames for s in timeline.slots)
    assert timeline.duration_s == timeline.total_frames / 25


def test_voice_starts_just_after_its_scene() -> None:
    timeline = build_timeline(_board(Scene(narration="a"), Scene(narration="b")), [3.0, 3.0])
    for slot in timeline.slots:
        assert abs(slot.voice_offset_s - (slot.start_frame / 30 + VOICE_LEAD_S)) < 1 / 30


def test_a_fixed_duration_never_cuts_the_narration() -> None:
    board = _board(Scene(narration="a", duration_s=2.0), Scene(narration="b", duration_s=9.0))
    timeline = build_timeline(board, [5.0, 1.0])
    assert timeline.slots[0].frames / 30 > 5.0
    assert timeline.slots[1].frames == 9 * 30


def test_short_narration_gets_a_minimum_scene() -> None:
    timeline = build_timeline(_board(Scene(narration="Hi.")), [0.4])
    assert timeline.slots[0].frames == MIN_SCENE_S * 30


def test_fades_only_into_later_scenes_with_fade_transitions() -> None:
    board = _board(
        Scene(narration="a"), Scene(narration="b"), Scene(narration="c", transition=Transition.CUT)
    )
    fades = [s.fade_in_frames for s in build_timeline(board, [3, 3, 3]).slots]
    assert fades == [0, 15, 0]
