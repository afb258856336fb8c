from __future__ import annotations

import json
from typing import Any

import pytest

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.storyboard import ScriptHints, VideoSettings, VisualKind
from reelforge.providers.script_prompt import (
    MAX_KEYWORDS,
    MAX_SCENES,
    STORYBOARD_SCHEMA,
    Message,
    ReplyError,
    bounded_schema,
    build_messages,
    parse_reply,
    scene_target,
    script_words,
    word_budget,
    write_script,
)


def scene(narration: str = "The tide comes in.", **extra: Any) -> dict[str, Any]:
    return {
        "narration": narration,
        "headline": "Tide",
        "keywords": ["tide"],
        "visual_prompt": "a beach at dawn",
        "stock_query": "beach tide",
        **extra,
    }


def board(*scenes: dict[str, Any], title: str = "Tides") -> str:
    return json.dumps({"title": title, "scenes": list(scenes)})


def words(n: int) -> str:
    return " ".join(["word"] * n) + "."


class Scripted:
    """A fake model: answers from a list and keeps every conversation it was sent."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.sent: list[list[Message]] = []

    def __call__(self, messages: list[Message]) -> str:
        self.sent.append([dict(m) for m in messages])
        return self.replies.pop(0)


@pytest.mark.parametrize(
    ("duration_s", "rate", "budget"), [(30, 1.0, 75), (60, 1.0, 150), (120, 1.5, 450)]
)
def test_word_budget_is_words_per_minute_times_rate_times_minutes(
    duration_s: float, rate: float, budget: int
) -> None:
    settings = VideoSettings(target_duration_s=duration_s, speaking_rate=rate)
    assert word_budget(settings) == budget


def test_scene_target_is_bounded() -> None:
    assert scene_target(VideoSettings(target_duration_s=10)) == 2
    assert 1 <= scene_target(VideoSettings(target_duration_s=600)) <= MAX_SCENES


def test_messages_state_budget_language_and_the_templates_structure() -> None:
    hints = ScriptHints(tone="punchy", hook="a question", call_to_action="follow us")
    settings = VideoSettings(target_duration_s=60, language="de", script=hints)
    system, user = build_messages("  Why the sea is salty  ", settings)
    assert system["role"] == "system"
    assert "about 150 words" in system["content"]
    assert "'de'" in system["content"]
    assert "Tone: punchy." in system["content"]
    assert "Hook (the first scene): a question." in system["content"]
    assert "Call to action (the last scene): follow us." in system["content"]
    assert "Body" not in system["content"]
    assert user == {"role": "user", "content": "Why the sea is salty"}


def test_schema_is_strict_mode_compatible() -> None:
    item = STORYBOARD_SCHEMA["properties"]["scenes"]["items"]
    for obj in (STORYBOARD_SCHEMA, item):
        assert obj["additionalProperties"] is False
        assert set(obj["required"]) == set(obj["properties"])


def test_parse_reply_builds_pre_planned_scenes() -> None:
    keywords = [f"k{i}" for i in range(8)]
    script = parse_reply(board(scene("  The  tide\ncomes in. ", keywords=keywords), scene()))
    assert script.title == "Tides"
    assert len(script.scenes) == 2
    first = script.scenes[0]
    assert first.narration == "The tide comes in."
    assert len(first.keywords) == MAX_KEYWORDS
    assert first.visual.kind is VisualKind.GENERATED
    assert (first.visual.prompt, first.visual.query) == ("a beach at dawn", "beach tide")
    assert script.narration == "The tide comes in. The tide comes in."
    assert not script.topic_only


@pytest.mark.parametrize(
    "wrapped",
    [
        "```json\n{body}\n```",
        "Here is your storyboard:\n{body}\nEnjoy!",
    ],
)
def test_parse_reply_tolerates_fences_and_chatter(wrapped: str) -> None:
    assert len(parse_reply(wrapped.format(body=board(scene()))).scenes) == 1


def test_parse_reply_drops_repeated_keywords() -> None:
    script = parse_reply(board(scene(keywords=["Sea", "tide", " sea ", "", "Moon", "TIDE"])))
    assert script.scenes[0].keywords == ("Sea", "tide", "Moon")


def test_bounded_schema_caps_lengths_for_grammars() -> None:
    schema = bounded_schema(VideoSettings(target_duration_s=30))
    scenes = schema["properties"]["scenes"]
    assert scenes["maxItems"] == 2 * scene_target(VideoSettings(target_duration_s=30))
    assert scenes["items"]["properties"]["keywords"]["maxItems"] == MAX_KEYWORDS
    assert "maxLength" in scenes["items"]["properties"]["narration"]
    assert "maxItems" not in STORYBOARD_SCHEMA["properties"]["scenes"]  # a copy


def test_parse_reply_falls_back_to_headline_for_a_missing_title() -> None:
    assert parse_reply(board(scene(), title=" ")).title == "Tide"


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("", "empty"),
        ('{"title": "x", "scenes": [', "not valid JSON"),
        (json.dumps({"title": "x", "scenes": []}), "scenes"),
        (board(*[scene()] * (MAX_SCENES + 1)), "scenes"),
        (board(scene("   ")), "narration"),
        (json.dumps({"title": "x", "scenes": [{"headline": "no narration"}]}), "narration"),
        ("[1, 2]", "storyboard"),
    ],
)
def test_parse_reply_rejects_unusable_replies(reply: str, problem: str) -> None:
    with pytest.raises(ReplyError, match=problem):
        parse_reply(reply)


def test_write_script_repairs_once_with_the_error() -> None:
    model = Scripted("not json", board(scene()))
    script = write_script(model, "tides", VideoSettings(), name="m")
    assert len(script.scenes) == 1
    assert len(model.sent) == 2
    assistant, repair = model.sent[1][-2:]
    assert assistant == {"role": "assistant", "content": "not json"}
    assert repair["role"] == "user"
    assert "not valid JSON" in repair["content"]


def test_write_script_fails_after_two_unusable_replies() -> None:
    model = Scripted("not json", board(scene("  ")))
    with pytest.raises(
        ProviderError, match=r"m returned an unusable storyboard twice: .*narration"
    ):
        write_script(model, "tides", VideoSettings(), name="m")


def test_write_script_rejects_an_empty_prompt() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        write_script(Scripted(), "  ", VideoSettings(), name="m")


def test_write_script_accepts_a_reply_within_the_budget_margin() -> None:
    model = Scripted(board(scene(words(90))))  # budget 75, +25% = 93.75
    assert script_words(write_script(model, "t", VideoSettings(), name="m")) == 90
    assert len(model.sent) == 1


def test_write_script_asks_once_to_shorten_a_long_reply() -> None:
    model = Scripted(board(scene(words(150))), board(scene(words(70))))
    script = write_script(model, "t", VideoSettings(), name="m")
    assert script_words(script) == 70
    assert "at most 75 words" in model.sent[1][-1]["content"]


@pytest.mark.parametrize("second", ["not json", board(scene(words(200)))])
def test_write_script_keeps_the_long_reply_when_shortening_fails(second: str) -> None:
    model = Scripted(board(scene(words(150))), second)
    assert script_words(write_script(model, "t", VideoSettings(), name="m")) == 150
    assert len(model.sent) == 2
