"""Static files shipped inside the package (fonts), found without assuming a source checkout.

The fonts are bundled so the offline visuals and captions look the same on every
machine, whatever fonts the host has installed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_FONTS = files("reelforge") / "assets" / "fonts"


def font_path(bold: bool) -> Path:
    """Filesystem path of the bundled DejaVu Sans (bold or regular).

    A real `Path` rather than a `Traversable` because Pillow and ffmpeg need a file
    name; the package is always installed unzipped (setuptools package-data).
    """
    return Path(str(_FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")))
