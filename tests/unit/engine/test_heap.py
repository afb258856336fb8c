"""A stage's freed heap goes back to the system when the stage ends (glibc)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from reelforge.engine.cache import ArtifactCache
from reelforge.engine.context import RenderContext
from reelforge.engine.heap import release_free_heap
from reelforge.providers.registry import Providers

MIB = 1 << 20


@pytest.mark.skipif(not release_free_heap(), reason="the C library cannot trim its heap")
def test_the_heap_a_stage_freed_between_kept_blocks_is_returned_when_it_ends(
    tmp_path: Path,
) -> None:
    ctx = RenderContext(cache=ArtifactCache(tmp_path), providers=Providers.offline())
    process = psutil.Process()
    with ctx.stage("compose"):
        # 100 KiB blocks stay under malloc's mmap threshold: they live on the heap, and every
        # tenth one kept pins the freed ones in between, which free() alone cannot give back.
        blocks = [bytearray(100 * 1024) for _ in range(3000)]
        kept = blocks[::10]
        del blocks
        held = process.memory_info().rss
    assert held - process.memory_info().rss > 150 * MIB
    assert len(kept) == 300
