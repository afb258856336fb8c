"""Job kinds for benchmarks and tests, never registered in production (`kinds.default_kinds`
has only `render`): they run the same queue paths as a render without rendering.

    worker = Worker(manager, {**platform.job_kinds(), **TEST_KINDS})
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from reelforge.engine.context import ProgressCallback
from reelforge.errors import ProviderError
from reelforge.jobs.kinds import JobRunner
from reelforge.jobs.manager import ClaimedJob

SLEEP_STEP_S = 0.05


def noop(job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
    return {}


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


TEST_KINDS: dict[str, JobRunner] = {"noop": noop, "sleep": sleep}
