"""What every stage of one render shares: the cache, the providers, progress and timings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from reelforge.engine.cache import ArtifactCache
from reelforge.engine.ffmpeg import DEFAULT_WATCHDOG, Watchdog
from reelforge.engine.heap import release_free_heap
from reelforge.errors import ReelforgeError, StorageError
from reelforge.providers.registry import Providers

T = TypeVar("T")
ProgressCallback = Callable[[str, float, str], None]
"""(stage, fraction 0..1, message): how a render reports where it is."""


def no_progress(stage: str, fraction: float, message: str) -> None:
    """The default progress sink: report nothing."""


@dataclass
class RenderContext:
    cache: ArtifactCache
    providers: Providers
    on_progress: ProgressCallback = no_progress
    stage_seconds: dict[str, float] = field(default_factory=dict)
    watchdog: Watchdog = DEFAULT_WATCHDOG
    """How long each ffmpeg may run before it is killed (proportional to its media)."""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage, report its start and end, and name it on any error raised inside.

        What the stage freed goes back to the system before the next one starts: compose's
        x264 and the checks' decoder then find it, rather than a heap kept at its peak."""
        self.on_progress(name, 0.0, "started")
        with self._run(name):
            yield

    def alongside(self, name: str, executor: Executor, work: Callable[[], T]) -> Future[T]:
        """Run stage `name` on `executor`, alongside the stages after it. It is timed, reported
        and named on an error as `stage` does; its start is reported here, so stages still start
        in order, and its end from where it runs."""
        self.on_progress(name, 0.0, "started")

        def run() -> T:
            with self._run(name):
                return work()

        return executor.submit(run)

    @contextmanager
    def _run(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except ReelforgeError as exc:
            exc.stage = exc.stage or name
            raise
        except OSError as exc:
            raise StorageError(str(exc), stage=name) from exc
        release_free_heap()
        self.stage_seconds[name] = round(time.perf_counter() - started, 3)
        self.on_progress(name, 1.0, "done")

    def each(self, stage: str, count: int, done: int) -> None:
        """Report `done` of `count` items of a stage finished."""
        self.on_progress(stage, done / count, f"scene {done}/{count}")
