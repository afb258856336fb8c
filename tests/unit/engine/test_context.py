"""A stage run item by item alongside later ones: results as they come, reported and named."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reelforge.engine.cache import ArtifactCache
from reelforge.engine.context import RenderContext
from reelforge.errors import ProviderError, ReelforgeError, StorageError
from reelforge.providers.registry import Providers


def context(tmp_path: Path, events: list[tuple[str, float, str]]) -> RenderContext:
    return RenderContext(
        cache=ArtifactCache(tmp_path),
        providers=Providers.offline(),
        on_progress=lambda stage, fraction, message: events.append((stage, fraction, message)),
    )


def test_each_item_is_reported_in_order_and_the_stage_ends_after_the_last(tmp_path: Path) -> None:
    events: list[tuple[str, float, str]] = []
    ctx = context(tmp_path, events)
    with ThreadPoolExecutor(max_workers=1) as pool:
        made = ctx.alongside_each("visuals", pool, [lambda: "a", lambda: "b"])
        assert [item.result() for item in made] == ["a", "b"]
    assert events == [
        ("visuals", 0.0, "started"),
        ("visuals", 0.5, "scene 1/2"),
        ("visuals", 1.0, "scene 2/2"),
        ("visuals", 1.0, "done"),
    ]
    assert "visuals" in ctx.stage_seconds


def test_a_failing_item_names_the_stage_stops_the_next_ones_and_the_stage_never_ends(
    tmp_path: Path,
) -> None:
    events: list[tuple[str, float, str]] = []
    ctx = context(tmp_path, events)

    def fails() -> str:
        raise ProviderError("the image service is down")

    later: list[str] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        made = ctx.alongside_each("visuals", pool, [fails, lambda: later.append("b")])
        with pytest.raises(ReelforgeError) as failure:
            made[0].result()
        with pytest.raises(ProviderError):
            made[1].result()
    assert failure.value.stage == "visuals"
    assert later == []
    assert ("visuals", 1.0, "done") not in events


def test_work_done_inside_another_stage_is_named_after_its_own(tmp_path: Path) -> None:
    ctx = context(tmp_path, [])
    with pytest.raises(StorageError) as failure, ctx.stage("voice"), ctx.named("compose"):
        raise OSError("disk full")
    assert failure.value.stage == "compose"
