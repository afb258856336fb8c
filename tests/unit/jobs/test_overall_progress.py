"""A job's overall progress only moves forward, even when a stage run alongside later ones
(the music bed, made during compose) reports its end after they moved on."""

from __future__ import annotations

from reelforge.jobs.kinds import overall_progress


def test_a_stage_ending_alongside_a_later_one_does_not_move_the_progress_back() -> None:
    seen: list[tuple[str, float]] = []
    report = overall_progress(lambda stage, fraction, _message: seen.append((stage, fraction)))
    report("music", 0.0, "started")
    report("compose", 0.0, "started")
    report("compose", 0.5, "450/900 frames")
    report("music", 1.0, "done")
    report("compose", 1.0, "done")
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(fractions)
    assert [stage for stage, _ in seen] == ["music", "compose", "compose", "music", "compose"]
    assert fractions[2] > fractions[1]  # compose's own progress still shows
