"""reelforge: a prompt in, a narrated video out — the same engine behind the CLI, API and workers.

>>> from reelforge import render
>>> result = render("Three sentences about the sea. ...", output=Path("sea.mp4"))

The names below load on first use (PEP 562), so `import reelforge.cli` or any small
submodule does not pay for the engine, numpy and the voice.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from reelforge.errors import (
    FFmpegError,
    InvalidInput,
    JobError,
    NotFound,
    ProviderError,
    ReelforgeError,
    RenderError,
    StorageError,
)

if TYPE_CHECKING:
    from reelforge.engine.pipeline import RenderResult, render
    from reelforge.model.storyboard import Scene, Storyboard, VideoSettings
    from reelforge.providers.registry import Providers

_LAZY = {
    "RenderResult": "reelforge.engine.pipeline",
    "render": "reelforge.engine.pipeline",
    "Scene": "reelforge.model.storyboard",
    "Storyboard": "reelforge.model.storyboard",
    "VideoSettings": "reelforge.model.storyboard",
    "Providers": "reelforge.providers.registry",
}

__all__ = [
    "FFmpegError",
    "InvalidInput",
    "JobError",
    "NotFound",
    "ProviderError",
    "Providers",
    "ReelforgeError",
    "RenderError",
    "RenderResult",
    "Scene",
    "StorageError",
    "Storyboard",
    "VideoSettings",
    "render",
]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'reelforge' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
