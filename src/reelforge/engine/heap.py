"""Giving freed heap back to the system between a render's stages.

glibc keeps the memory a stage frees (decoded stills, frame buffers, audio arrays) in its
arenas for reuse, so a long-lived process (the worker, or the CLI between stages) carries
the high-water mark of every stage before into the next one, where ffmpeg children need
it. `malloc_trim(0)` returns the free pages; elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_free_heap() -> bool:
    """Return the heap freed so far to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
