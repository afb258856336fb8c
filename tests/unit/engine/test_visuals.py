"""What a scene's picture is keyed by: every field a visual source reads, and no other."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.engine.stages.visuals import picture_fields
from reelforge.model.storyboard import Resolution, Scene, VideoSettings, VisualSpec, VisualStyle
from reelforge.providers.openai_images import image_prompt
from reelforge.providers.procedural import ProceduralImages
from reelforge.providers.visual_choice import search_query

SMALL = VideoSettings(resolution=Resolution.SD)
NARRATIONS = ("Bees dance to show the way.", "Guards smell every bee at the door, then rest.")


def scene(narration: str, headline: str, prompt: str) -> Scene:
    return Scene(narration=narration, headline=headline, visual=VisualSpec(prompt=prompt))


def what_sources_read(tmp_path: Path, shown: Scene) -> tuple[bytes, str, str]:
    """The procedural still's bytes, the generated image's prompt and the stock search."""
    out = tmp_path / f"{len(list(tmp_path.iterdir()))}.png"
    ProceduralImages().render(shown, 3, SMALL, SMALL.size, out)
    return out.read_bytes(), image_prompt(shown, VisualStyle.MODERN), search_query(shown)


@pytest.mark.parametrize(
    ("headline", "prompt", "keyed"),
    [
        ("The waggle dance", "bees dancing on a comb", False),
        ("", "bees dancing on a comb", True),
        ("The waggle dance", "", True),
    ],
)
def test_the_narration_keys_the_picture_only_when_a_source_reads_it(
    tmp_path: Path, headline: str, prompt: str, keyed: bool
) -> None:
    first, edited = (scene(n, headline, prompt) for n in NARRATIONS)
    assert ("narration" in picture_fields(first)) is keyed
    if not keyed:
        assert what_sources_read(tmp_path, first) == what_sources_read(tmp_path, edited)
    else:
        assert what_sources_read(tmp_path, first) != what_sources_read(tmp_path, edited)


def test_headline_keywords_and_visual_always_key_the_picture() -> None:
    fields = picture_fields(scene(NARRATIONS[0], "The waggle dance", "bees"))
    assert {"headline", "keywords", "visual"} <= fields
