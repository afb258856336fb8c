"""The lower bound on a storyboard's length that plan limits check before anything is spoken."""

from __future__ import annotations

from reelforge.model.durations import MIN_SCENE_S, shortest_duration_s
from reelforge.model.storyboard import Storyboard


def board(*scenes: dict[str, object], rate: float = 1.0) -> Storyboard:
    return Storyboard.model_validate({"settings": {"speaking_rate": rate}, "scenes": scenes})


def test_every_scene_lasts_at_least_the_minimum() -> None:
    assert shortest_duration_s(board(*[{"narration": "Hi."}] * 31)) == 31 * MIN_SCENE_S


def test_a_set_duration_counts_in_full() -> None:
    assert shortest_duration_s(board({"narration": "Hi.", "duration_s": 600})) == 600


def test_narration_counts_at_the_fastest_pace_and_the_speaking_rate() -> None:
    words = {"narration": "word " * 500}  # 100 s at 300 words a minute, + 0.25 s lead/tail
    assert shortest_duration_s(board(words)) == 100.25
    assert shortest_duration_s(board(words, rate=2.0)) == 50.25
