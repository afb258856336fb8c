from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelforge.engine.stages.scenes import (
    balanced_groups,
    headline,
    keywords,
    plan_scenes,
    scene_count,
)
from reelforge.model.storyboard import Pacing, TitleCards, Transition, VideoSettings, VisualKind
from reelforge.model.text import count_words
from reelforge.providers.base import Script
from reelforge.providers.prompt_script import PromptScript

SETTINGS = VideoSettings()


def test_balanced_groups_even_split() -> None:
    assert balanced_groups([5, 5, 5, 5, 5, 5], 3) == [0, 2, 4]


def test_balanced_groups_put_a_long_sentence_alone() -> None:
    assert balanced_groups([2, 2, 2, 12, 3, 3], 3) == [0, 3, 4]


@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(1, 12))
def test_balanced_groups_are_contiguous_and_complete(weights: list[int], groups: int) -> None:
    starts = balanced_groups(weights, groups)
    assert starts[0] == 0
    assert starts == sorted(set(starts))
    assert len(starts) == min(groups, len(weights))
    assert starts[-1] < len(weights)


@pytest.mark.parametrize(
    ("words", "sentences", "expected"), [(10, 1, 1), (86, 8, 6), (160, 12, 11), (1000, 5, 5)]
)
def test_scene_count_follows_spoken_length(words: int, sentences: int, expected: int) -> None:
    assert scene_count(words, sentences) == expected


def _plan(text: str) -> list[str]:
    board = plan_scenes(PromptScript().write(text, SETTINGS), SETTINGS)
    return [s.narration for s in board.scenes]


def test_scenes_keep_every_word_in_order() -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i} at some length." for i in range(9))
    scenes = _plan(text)
    assert " ".join(scenes).split() == text.split()
    assert 4 <= len(scenes) <= 9


def test_scene_lengths_are_balanced() -> None:
    text = " ".join(f"This is sentence {i} with a fair number of words in it." for i in range(12))
    lengths = [count_words(s) for s in _plan(text)]
    assert max(lengths) - min(lengths) <= 12


def test_paragraph_breaks_are_scene_cuts() -> None:
    first = "Bees dance to tell each other where flowers are. The dance points at the sun."
    second = "Ants follow scent trails instead. Each ant adds to the trail as it walks home."
    scenes = _plan(f"{first}\n\n{second}")
    assert all(not (("Bees" in s or "dance" in s) and "Ants" in s) for s in scenes)


def test_scenes_get_headline_and_keywords() -> None:
    board = plan_scenes(
        PromptScript().write(
            "Volcanoes shape islands over millions of years. Lava cools into new rock.", SETTINGS
        ),
        SETTINGS,
    )
    for scene in board.scenes:
        assert scene.headline
        assert scene.keywords
        assert all(k.lower() in scene.narration.lower() for k in scene.keywords)


def test_topic_only_prompt_is_narrated_as_written_and_flagged() -> None:
    script = PromptScript().write("The history of coffee", SETTINGS)
    assert script.topic_only
    board = plan_scenes(script, SETTINGS)
    assert [s.narration for s in board.scenes] == ["The history of coffee"]


def test_a_script_is_not_topic_only() -> None:
    script = PromptScript().write("Coffee came from Ethiopia. It spread to Yemen.", SETTINGS)
    assert not script.topic_only


def test_pre_planned_scenes_are_kept() -> None:
    board = plan_scenes(PromptScript().write("One. Two.", SETTINGS), SETTINGS)
    again = plan_scenes(Script(title="t", narration="ignored", scenes=board.scenes), SETTINGS)
    assert again.scenes == board.scenes


def test_keywords_do_not_repeat_the_headline_or_each_other() -> None:
    text = "Deep below the waves, mountain ranges stretch for thousands of kilometres."
    title = headline(text)
    found = keywords(text, avoid=title)
    seen = {w.lower() for w in title.split()}
    for phrase in found:
        words = {w.lower() for w in phrase.split()}
        assert not words & seen
        seen |= words
    assert found


def test_a_templates_pacing_cards_and_transition_shape_the_plan() -> None:
    text = " ".join(f"This is sentence {i} with a fair number of words in it." for i in range(12))
    script = PromptScript().write(text, SETTINGS)
    slow = VideoSettings(pacing=Pacing(scene_s=12.0))
    fast = VideoSettings(
        pacing=Pacing(scene_s=3.0, transition=Transition.CUT),
        cards=TitleCards(intro="Top 5", outro="Follow", color="#112233"),
    )
    slow_board, fast_board = plan_scenes(script, slow), plan_scenes(script, fast)
    intro, *body, outro = fast_board.scenes
    assert len(body) > len(slow_board.scenes)
    assert (intro.narration, intro.headline, outro.headline) == ("Top 5", "Top 5", "Follow")
    assert intro.visual.kind is VisualKind.COLOR and intro.visual.color == "#112233"
    assert {s.transition for s in fast_board.scenes} == {Transition.CUT}
    assert {s.transition for s in slow_board.scenes} == {Transition.FADE}
