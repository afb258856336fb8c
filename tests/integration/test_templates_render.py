"""Every built-in template renders a valid short video (offline providers, 480p, the
shortest length) whose manifest names the template and the style it applied."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from reelforge import VideoSettings, render
from reelforge.model.templates import BUILTIN_TEMPLATES, apply

pytestmark = pytest.mark.slow

PROMPT = "Honey never spoils. Bees make it from nectar."


def _mean_rgb_at(video: Path, seconds: float) -> np.ndarray:
    with av.open(str(video)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    raise AssertionError(f"no frame at {seconds} s")


@pytest.mark.parametrize("template_id", list(BUILTIN_TEMPLATES))
def test_each_builtin_template_renders_in_its_style(tmp_path: Path, template_id: str) -> None:
    template = BUILTIN_TEMPLATES[template_id]
    base = VideoSettings(resolution="480p", target_duration_s=10, seed=5)
    settings = apply(template, base)
    result = render(
        PROMPT, output=tmp_path / "v.mp4", settings=settings, cache_dir=tmp_path / "cache"
    )
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["template"] == {
        "id": template.id, "name": template.name, "version": 1,
        "style": template.style.model_dump(mode="json"),
    }  # fmt: skip
    scenes = manifest["storyboard"]["scenes"]
    cards = template.style.cards
    if cards.intro:  # the intro card is drawn in the card colour
        assert scenes[0]["narration"] == cards.intro
        assert scenes[0]["visual"]["color"] == cards.color
        card_rgb = [int(cards.color[i : i + 2], 16) for i in (1, 3, 5)]
        shown = _mean_rgb_at(result.video, manifest["scenes"][0]["end_s"] / 2)
        assert int(np.argmax(shown)) == int(np.argmax(card_rgb)), (shown, card_rgb)
    if cards.outro:
        assert scenes[-1]["narration"] == cards.outro
    assert {s["transition"] for s in scenes} == {template.style.pacing.transition.value}
    with av.open(str(result.video)) as container:
        video = container.streams.video[0].codec_context
        assert (video.width, video.height) == settings.size
        assert container.streams.audio, "no audio"
        seconds = float(container.duration or 0) / 1_000_000
        assert abs(seconds - result.duration_s) < 0.5 and seconds > 2.0
