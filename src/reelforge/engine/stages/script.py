"""Script: the prompt becomes narration (and, from an LLM, planned scenes).

Cached by provider, prompt and settings: an identical request is answered from the
artifact cache, so re-rendering a prompt costs no second LLM call.
"""

from __future__ import annotations

import json
from pathlib import Path

from reelforge.engine.cache import artifact_key
from reelforge.engine.context import RenderContext
from reelforge.model.storyboard import Scene, VideoSettings
from reelforge.providers.base import Script
from reelforge.providers.registry import provider_id

SCRIPT_FILE = "script.json"


def write_script(ctx: RenderContext, prompt: str, settings: VideoSettings) -> Script:
    writer = ctx.providers.script
    key = artifact_key(
        "script", provider_id(writer),
        {"prompt": prompt, "settings": settings.model_dump(mode="json")},
    )  # fmt: skip

    def build(out: Path) -> None:
        script = writer.write(prompt, settings)
        data = {
            "title": script.title, "narration": script.narration,
            "topic_only": script.topic_only,
            "scenes": [scene.model_dump(mode="json") for scene in script.scenes],
        }  # fmt: skip
        (out / SCRIPT_FILE).write_text(json.dumps(data), encoding="utf-8")

    data = json.loads((ctx.cache.fetch("script", key, build) / SCRIPT_FILE).read_text("utf-8"))
    return Script(
        title=data["title"], narration=data["narration"], topic_only=data["topic_only"],
        scenes=tuple(Scene.model_validate(scene) for scene in data["scenes"]),
    )  # fmt: skip
