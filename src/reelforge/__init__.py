"""reelforge: a prompt in, a narrated video out — the same engine behind the CLI, API and workers.

>>> from reelforge import render
>>> result = render("Three sentences about the sea. ...", output=Path("sea.mp4"))
"""

from __future__ import annotations

from reelforge.engine.pipeline import RenderResult, render
from reelforge.engine.storyboard import Scene, Storyboard, VideoSettings
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
from reelforge.providers.registry import Providers

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
