from pathlib import Path

import numpy as np
from PIL import Image

from reelforge.providers.png import save_png


def test_save_png_is_lossless_rgb(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (37, 51, 3), np.uint8)
    out = tmp_path / "still.png"
    save_png(Image.fromarray(pixels), out)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        assert np.array_equal(np.asarray(img), pixels)


def test_save_png_drops_alpha(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 2), (10, 20, 30, 40))
    save_png(rgba, tmp_path / "still.png")
    with Image.open(tmp_path / "still.png") as img:
        assert img.mode == "RGB" and img.getpixel((0, 0)) == (10, 20, 30)
