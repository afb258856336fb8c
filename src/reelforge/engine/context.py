"""What every stage of one render shares: the cache, the providers, progress and timings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
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

    def alongside_each(
        self, name: str, executor: Executor, works: Sequence[Callable[[], T]]
    ) -> list[Future[T]]:
        """Run stage `name` item by item on `executor` (one worker keeps them in order),
        alongside the stages after it: each item's result can be used as soon as it is made.
        Reported, timed and named as `alongside` does, with its progress item by item; after
        a failed item the others fail the same way, unmade, and the stage never ends."""
        self.on_progress(name, 0.0, "started")
        started = time.perf_counter()
        failed: list[BaseException] = []

        def run(done: int, work: Callable[[], T]) -> T:
            if failed:
                raise failed[0]
            try:
                with self.named(name):
                    made = work()
            except BaseException as exc:
                failed.append(exc)
                raise
            self.each(name, len(works), done)
            if done == len(works):
                self._finish(name, started)
            return made

        return [executor.submit(run, done, work) for done, work in enumerate(works, 1)]

    @contextmanager
    def named(self, name: str) -> Iterator[None]:
        """Name any error raised inside after stage `name` (unless it names one already),
        without reporting or timing anything: for a stage's work done inside another."""
        try:
            yield
        except ReelforgeError as exc:
            exc.stage = exc.stage or name
            raise
        except OSError as exc:
            raise StorageError(str(exc), stage=name) from exc

    @contextmanager
    def _run(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        with self.named(name):
            yield
        self._finish(name, started)

    def _finish(self, name: str, started: float) -> None:
        release_free_heap()
        self.stage_seconds[name] = round(time.perf_counter() - started, 3)
        self.on_progress(name, 1.0, "done")

    def each(self, stage: str, count: int, done: int) -> None:
        """Report `done` of `count` items of a stage finished."""
        self.on_progress(stage, done / count, f"scene {done}/{count}")
