from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from reelforge.engine.preview import render_preview
from reelforge.model.storyboard import CaptionPosition, Captions
from reelforge.model.templates import BUILTIN_TEMPLATES, Template, TemplateStyle


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def test_each_builtin_preview_is_a_half_size_frame_of_its_shape(tmp_path: Path) -> None:
    sizes = {"16:9": (427, 240), "9:16": (240, 427), "1:1": (240, 240)}
    for template in BUILTIN_TEMPLATES.values():
        out = tmp_path / f"{template.id}.png"
        render_preview(template, out)
        with Image.open(out) as image:
            width, height = sizes[template.style.aspect.value]
            assert abs(image.width - width) <= 1 and abs(image.height - height) <= 1


def test_the_caption_is_burned_in_where_the_template_puts_it(tmp_path: Path) -> None:
    def preview(position: CaptionPosition) -> np.ndarray:
        style = TemplateStyle(captions=Captions(position=position, color="#FF0000", size=2.0))
        out = tmp_path / f"{position.value}.png"
        render_preview(Template(id="t", name="T", style=style), out)
        return _rgb(out)

    top, bottom = preview(CaptionPosition.TOP), preview(CaptionPosition.BOTTOM)
    changed = np.abs(top - bottom).sum(axis=2) > 60
    rows = np.nonzero(changed.any(axis=1))[0]
    height = top.shape[0]
    assert rows.min() < height * 0.25 and rows.max() > height * 0.75
    red_rows = np.nonzero(((top[..., 0] > 200) & (top[..., 1] < 80)).any(axis=1))[0]
    assert red_rows.size and red_rows.max() < height * 0.3  # the red caption is at the top
