"""The offline title cards: exact frame sizes, reproducible bytes, visible variety and text."""

from __future__ import annotations

import colorsys
import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from reelforge.model.storyboard import (
    Aspect,
    Resolution,
    Scene,
    VideoSettings,
    VisualKind,
    VisualSpec,
    VisualStyle,
)
from reelforge.providers.base import ImageProvider
from reelforge.providers.procedural import ProceduralImages

SCENE = Scene(
    narration="Coffee began in the highlands of Ethiopia.",
    headline="Where coffee began",
    keywords=("ethiopia", "history"),
)
SMALL = VideoSettings(resolution=Resolution.SD)


def render(
    tmp_path: Path, scene: Scene = SCENE, index: int = 0, settings: VideoSettings = SMALL
) -> npt.NDArray[np.int16]:
    out = tmp_path / "card.png"
    ProceduralImages().render(scene, index, settings, settings.size, out)
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.mode == "RGB"
        return np.asarray(img).astype(np.int16)


def white(pixels: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    """Near-white pixels: the headline on dark palettes (backgrounds never get this bright)."""
    return np.asarray((pixels > 235).all(axis=-1))


def test_satisfies_the_image_provider_protocol() -> None:
    provider: ImageProvider = ProceduralImages()
    assert (provider.id, provider.version) == ("procedural", "2")


@pytest.mark.parametrize("aspect", list(Aspect))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_writes_an_rgb_png_of_exactly_the_frame_size(
    tmp_path: Path, aspect: Aspect, resolution: Resolution
) -> None:
    settings = VideoSettings(aspect=aspect, resolution=resolution)
    pixels = render(tmp_path, settings=settings)
    assert (pixels.shape[1], pixels.shape[0]) == settings.size


def test_same_inputs_give_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    provider, size = ProceduralImages(), SMALL.size
    first, second, other = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    provider.render(SCENE, 3, SMALL, size, first)
    provider.render(SCENE, 3, SMALL, size, second)
    provider.render(SCENE, 3, SMALL.model_copy(update={"seed": 8}), size, other)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


@pytest.mark.parametrize("style", list(VisualStyle))
def test_consecutive_scenes_look_clearly_different(tmp_path: Path, style: VisualStyle) -> None:
    settings = SMALL.model_copy(update={"visual_style": style})
    cards = [render(tmp_path, index=i, settings=settings) for i in range(4)]
    for before, after in itertools.pairwise(cards):
        assert np.abs(before - after).mean() > 8.0


def test_headline_is_drawn_inside_the_text_band(tmp_path: Path) -> None:
    pixels = render(tmp_path)
    h = pixels.shape[0]
    text = white(pixels)
    assert text[int(h * 0.08) : int(h * 0.72)].mean() > 0.01
    assert not text[int(h * 0.75) :].any()


def test_changing_the_text_changes_the_band_but_not_the_caption_zone(tmp_path: Path) -> None:
    """Only the soft scrim under the text may reach the bottom quarter, never glyphs."""
    short = render(tmp_path)
    long = render(
        tmp_path,
        scene=SCENE.model_copy(
            update={"headline": "A much longer headline about the coffee trade", "keywords": ()}
        ),
    )
    h = short.shape[0]
    assert np.abs(short - long)[int(h * 0.08) : int(h * 0.72)].mean() > 5.0
    assert np.abs(short - long)[int(h * 0.75) :].max() < 40


def test_narrow_portrait_wraps_a_long_headline_inside_the_safe_area(tmp_path: Path) -> None:
    scene = Scene(
        narration="Anything.",
        headline="Two billion cups of coffee are poured every single day around the world",
        keywords=("today", "global", "numbers"),
    )
    settings = VideoSettings(aspect=Aspect.PORTRAIT, resolution=Resolution.SD)
    text = white(render(tmp_path, scene=scene, settings=settings))
    h, w = text.shape
    columns = np.flatnonzero(text.any(axis=0))
    assert columns.min() >= w * 0.09
    assert columns.max() <= w * 0.91
    assert not text[int(h * 0.75) :].any()


def test_empty_headline_falls_back_to_the_narration(tmp_path: Path) -> None:
    scene = Scene(narration="Traders carried the beans across the Red Sea to Yemen, early on.")
    pixels = render(tmp_path, scene=scene)
    h = pixels.shape[0]
    assert white(pixels)[int(h * 0.08) : int(h * 0.72)].mean() > 0.01


@pytest.mark.parametrize("colour", ["#2e7d32", "#e65100", "#1565c0"])
def test_colour_visual_dominates_the_card(tmp_path: Path, colour: str) -> None:
    scene = SCENE.model_copy(update={"visual": VisualSpec(kind=VisualKind.COLOR, color=colour)})
    pixels = render(tmp_path, scene=scene)
    mean = pixels[~white(pixels)].mean(axis=0) / 255
    want = colorsys.rgb_to_hsv(*(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)))[0]
    got = colorsys.rgb_to_hsv(*mean)[0]
    assert min(abs(got - want), 1 - abs(got - want)) < 0.05
