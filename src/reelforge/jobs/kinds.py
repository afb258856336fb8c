"""What a worker does for each kind of job. `render` is the product; `noop` and `sleep`
exist for benchmarks and crash/cancel tests and run the same queue paths."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.engine.context import ProgressCallback
from reelforge.errors import InvalidInput, ProviderError
from reelforge.jobs.manager import ClaimedJob

JobRunner = Callable[[ClaimedJob, ProgressCallback], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RenderKind:
    """Renders the storyboard in the job's payload into `data_dir/renders/<job id>/`."""

    data_dir: Path
    cache_dir: Path

    def __call__(self, job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
        from reelforge.engine.pipeline import render
        from reelforge.engine.storyboard import Storyboard, describe_validation_error

        try:
            storyboard = Storyboard.model_validate(job.payload["storyboard"])
        except (KeyError, ValueError) as exc:
            message = f"job has no valid storyboard: {describe_validation_error(exc)}"
            raise InvalidInput(message, stage="input") from exc
        output = self.data_dir / "renders" / str(job.id) / "video.mp4"
        result = render(
            storyboard, output=output, cache_dir=self.cache_dir, on_progress=on_progress
        )
        return {
            "video": str(result.video), "srt": str(result.srt), "vtt": str(result.vtt),
            "thumbnail": str(result.thumbnail), "manifest": str(result.manifest),
            "duration_s": result.duration_s, "stage_seconds": result.stage_seconds,
        }  # fmt: skip


def noop(job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
    return {}


SLEEP_STEP_S = 0.05


def sleep(job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
    """Sleep `payload.seconds`, reporting progress; `payload.fail_attempts` attempts raise
    a provider error first (to exercise retries), and `payload.output` gets a file at the end."""
    seconds = float(job.payload.get("seconds", 1.0))
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        on_progress("sleep", min(elapsed / seconds, 1.0), "sleeping")
        time.sleep(SLEEP_STEP_S)
    if job.attempts <= int(job.payload.get("fail_attempts", 0)):
        raise ProviderError(f"simulated provider failure on attempt {job.attempts}", stage="sleep")
    if "output" in job.payload:
        out = Path(job.payload["output"])
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as handle:  # appended: a duplicate run shows
            handle.write(f"{job.id} attempt {job.attempts}\n")
    return {"slept_s": seconds}


def default_kinds(data_dir: Path, cache_dir: Path) -> dict[str, JobRunner]:
    return {"render": RenderKind(data_dir, cache_dir), "noop": noop, "sleep": sleep}
