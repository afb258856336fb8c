"""Asking any chat model for a storyboard: the JSON schema, the prompt, the parser and the
repair/shorten conversation, shared by every LLM script provider (remote or in-process) so
they all ask the same question and accept the same answers.

One `write_script` call makes at most three model calls:

1. the request, stating a word budget (`WORDS_PER_MINUTE` × speaking rate × minutes);
2. if the reply is not valid (malformed JSON, no scenes, blank narration...), ONE repair
   round that sends the error back; a second invalid reply is a `ProviderError`;
3. if the valid reply is more than `OVER_BUDGET_RATIO` over the budget, ONE shorten round.
   The shorter reply is used only if it is valid and shorter; otherwise the first is
   accepted (a long video beats a failed one; the engine times scenes from the speech).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.storyboard import Scene, VideoSettings, VisualKind, VisualSpec
from reelforge.model.storyboard import describe_validation_error as _describe
from reelforge.model.text import count_words
from reelforge.providers.base import Script

WORDS_PER_MINUTE = 150
"""A calm narrator at rate 1.0 (Piper's bundled voice speaks about 155)."""
OVER_BUDGET_RATIO = 1.25
SCENE_S = 6.0
"""Seconds of speech per scene the prompt asks for: a new picture every few sentences."""
MAX_SCENES = 60
MAX_KEYWORDS = 5
MAX_QUERY_CHARS = 100

Message = dict[str, str]
Complete = Callable[[list[Message]], str]
"""Sends the conversation to a model and returns the assistant's reply text."""

STORYBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": "The video's title, at most 8 words."},
        "scenes": {
            "type": "array",
            "description": f"1 to {MAX_SCENES} scenes, in spoken order.",
            "items": {
                "type": "object",
                "properties": {
                    "narration": {
                        "type": "string",
                        "description": "What the voice-over says: plain spoken sentences.",
                    },
                    "headline": {"type": "string", "description": "2 to 6 words on screen."},
                    "keywords": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": f"At most {MAX_KEYWORDS} key words or short phrases.",
                    },
                    "visual_prompt": {
                        "type": "string",
                        "description": "One picture for an image generator, in English.",
                    },
                    "stock_query": {
                        "type": "string",
                        "description": "1 to 4 English words to search stock photos/videos.",
                    },
                },
                "required": ["narration", "headline", "keywords", "visual_prompt", "stock_query"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["title", "scenes"],
    "additionalProperties": False,
}
"""Strict-mode compatible (every property required, no extra ones): OpenAI's structured
outputs reject anything else, and llama.cpp turns it into a grammar."""


_MAX_CHARS = {"narration": 800, "headline": 60, "visual_prompt": 300, "stock_query": 60}
_MAX_KEYWORD_CHARS = 40


def bounded_schema(settings: VideoSettings) -> dict[str, Any]:
    """`STORYBOARD_SCHEMA` with lengths and counts capped, for grammar-constrained decoding
    (llama.cpp): without caps a small model can repeat one keyword until the context is
    full. Not sent to remote servers: OpenAI's strict mode rejects `maxLength`."""
    schema = copy.deepcopy(STORYBOARD_SCHEMA)
    scenes = schema["properties"]["scenes"]
    scenes["minItems"], scenes["maxItems"] = 1, min(MAX_SCENES, 2 * scene_target(settings))
    item = scenes["items"]["properties"]
    for name, limit in _MAX_CHARS.items():
        item[name]["maxLength"] = limit
    item["keywords"]["maxItems"] = MAX_KEYWORDS
    item["keywords"]["items"]["maxLength"] = _MAX_KEYWORD_CHARS
    schema["properties"]["title"]["maxLength"] = _MAX_CHARS["headline"]
    return schema


class ReplyError(ValueError):
    """The model's reply cannot be used; the message is what the repair round sends back."""


class _SceneReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    narration: str
    headline: str = ""
    keywords: list[str] = []
    visual_prompt: str = ""
    stock_query: str = ""


class _StoryboardReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = ""
    scenes: Annotated[list[_SceneReply], Field(min_length=1, max_length=MAX_SCENES)]


def word_budget(settings: VideoSettings) -> int:
    """Words of narration that fill `target_duration_s` at the settings' speaking rate."""
    minutes = settings.target_duration_s / 60
    return max(1, round(WORDS_PER_MINUTE * settings.speaking_rate * minutes))


def scene_target(settings: VideoSettings) -> int:
    return max(1, min(MAX_SCENES, round(settings.target_duration_s / SCENE_S)))


def system_prompt(settings: VideoSettings) -> str:
    budget, wpm = word_budget(settings), round(WORDS_PER_MINUTE * settings.speaking_rate)
    hints = settings.script
    tone = f"Tone: {hints.tone or 'clear, friendly and engaging'}."
    structure = [
        f"{label}: {text}."
        for label, text in (
            ("Hook (the first scene)", hints.hook),
            ("Body", hints.points),
            ("Call to action (the last scene)", hints.call_to_action),
        )
        if text.strip()
    ]
    lines = [
        "You write the script of a short narrated video as a storyboard.",
        'Reply with one JSON object only: {"title": ..., "scenes": [...]}. Each scene has',
        '"narration" (the words the voice-over speaks: plain sentences, no stage directions,',
        'no markdown, no emoji), "headline" (2-6 words shown on screen), "keywords" (at most',
        f'{MAX_KEYWORDS} key words or short phrases), "visual_prompt" (one detailed picture for',
        "an image generator: subject, setting, light, style; no text in the image) and",
        '"stock_query" (1-4 words to search a stock photo and video library).',
        f"Length: the narration of all scenes together must be about {budget} words and never",
        f"more (it is spoken at {wpm} words a minute for"
        f" {settings.target_duration_s:g} seconds). Use about {scene_target(settings)} scenes.",
        f"Write title, narration, headline and keywords in the language {settings.language!r};",
        "write visual_prompt and stock_query in English.",
        tone,
        *structure,
        "If the user's text is already a script, keep its wording and split it into scenes.",
    ]
    return " ".join(lines)


def build_messages(prompt: str, settings: VideoSettings) -> list[Message]:
    return [
        {"role": "system", "content": system_prompt(settings)},
        {"role": "user", "content": prompt.strip()},
    ]


def with_schema_in_prompt(messages: list[Message]) -> list[Message]:
    """The same conversation with the JSON Schema spelled out in the system message, for
    servers that only offer `json_object` mode (the model must learn the shape by reading)."""
    schema = json.dumps(STORYBOARD_SCHEMA)
    return [
        {**m, "content": f"{m['content']}\nThe JSON object must follow this JSON Schema:\n{schema}"}
        if m["role"] == "system" and schema not in m["content"]
        else m
        for m in messages
    ]


_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)


def _json_text(content: str) -> str:
    """The JSON object inside a reply: tolerates code fences and chatter around it, which
    small models add in `json_object` mode."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if start != -1 and end > start:
            text = text[start : end + 1]
    return text


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_reply(content: str) -> Script:
    """The model's reply as a `Script` with pre-planned scenes.

    Raises:
        ReplyError: not JSON, not the storyboard shape, or scenes our models reject.
    """
    text = _json_text(content)
    if not text:
        raise ReplyError("the reply was empty; expected a JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplyError(f"the reply is not valid JSON ({exc.msg} at char {exc.pos})") from exc
    try:
        reply = _StoryboardReply.model_validate(data)
        scenes = tuple(_scene(s) for s in reply.scenes)
    except ValidationError as exc:
        raise ReplyError(f"the JSON does not match the storyboard: {_describe(exc)}") from exc
    title = _clean(reply.title) or scenes[0].headline or " ".join(scenes[0].narration.split()[:8])
    narration = " ".join(scene.narration for scene in scenes)
    return Script(title=title, narration=narration, scenes=scenes)


def _scene(reply: _SceneReply) -> Scene:
    unique: dict[str, str] = {}  # small models repeat one keyword; keep first spellings
    for keyword in map(_clean, reply.keywords):
        if keyword:
            unique.setdefault(keyword.lower(), keyword)
    keywords = tuple(unique.values())[:MAX_KEYWORDS]
    visual = VisualSpec(
        kind=VisualKind.GENERATED,
        prompt=_clean(reply.visual_prompt),
        query=_clean(reply.stock_query)[:MAX_QUERY_CHARS],
    )
    return Scene(
        narration=_clean(reply.narration),
        headline=_clean(reply.headline),
        keywords=keywords,
        visual=visual,
    )


def script_words(script: Script) -> int:
    return sum(count_words(scene.narration) for scene in script.scenes)


def repair_message(error: str) -> Message:
    return {
        "role": "user",
        "content": f"Your reply cannot be used: {error}. Reply again with the corrected"
        " storyboard as one JSON object only, in the same format.",
    }


def shorten_message(words: int, budget: int) -> Message:
    return {
        "role": "user",
        "content": f"The narration totals {words} words, but it must be at most {budget} words."
        f" Reply with the same storyboard shortened to at most {budget} words of narration in"
        " total, as one JSON object only, in the same format.",
    }


def write_script(complete: Complete, prompt: str, settings: VideoSettings, *, name: str) -> Script:
    """Ask for a storyboard through `complete`, with one repair and one shorten round.

    Args:
        complete: sends a conversation to the model, returns the reply text.
        name: the provider, for error messages.

    Raises:
        InvalidInput: the prompt is empty. ProviderError: two invalid replies in a row.
    """
    if not prompt.strip():
        raise InvalidInput("the prompt is empty", stage="script")
    messages = build_messages(prompt, settings)
    reply = complete(messages)
    try:
        script = parse_reply(reply)
    except ReplyError as first:
        messages += [{"role": "assistant", "content": reply}, repair_message(str(first))]
        reply = complete(messages)
        try:
            script = parse_reply(reply)
        except ReplyError as second:
            raise ProviderError(
                f"{name} returned an unusable storyboard twice: {second}", stage="script"
            ) from second
    budget, words = word_budget(settings), script_words(script)
    if words <= budget * OVER_BUDGET_RATIO:
        return script
    messages += [{"role": "assistant", "content": reply}, shorten_message(words, budget)]
    try:
        shorter = parse_reply(complete(messages))
    except ReplyError:
        return script
    return shorter if script_words(shorter) < words else script
