"""The app's shutdown with in-process render workers (`reelforge serve`): bounded, off the
event loop, a hung render abandoned and its job left for the reaper (issue #22)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from reelforge.api.app import create_app
from reelforge.db.models import JobState
from reelforge.engine.context import ProgressCallback
from reelforge.jobs.kinds import JobRunner
from reelforge.jobs.manager import ClaimedJob
from reelforge.model.plans import Plan
from reelforge.platform.services import Platform
from tests.integration.jobs.test_worker import add_user, job, submit

from .conftest import settings_for

UNHANG = threading.Event()


def hang(job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
    on_progress("compose", 0.5, "encoding")
    UNHANG.wait(120)  # a hung library call: no progress reports
    on_progress("compose", 0.6, "encoding")
    return {}


class HangingPlatform(Platform):
    def job_kinds(self) -> dict[str, JobRunner]:
        return {**super().job_kinds(), "hang": hang}


def test_shutdown_with_a_hung_render_is_bounded_and_keeps_the_event_loop_running(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """The lifespan joined its worker threads with no timeout, inside the event loop: a hung
    render blocked shutdown (and the loop) forever."""
    UNHANG.clear()
    settings = settings_for(db_url, tmp_path, workers={"grace_s": 0.2, "shutdown_timeout_s": 1.0})
    platform = HangingPlatform(settings)
    app = create_app(platform, workers=1)
    outcome: dict[str, Any] = {}

    async def serve_then_stop() -> None:
        async with app.router.lifespan_context(app):
            job_id = submit(platform.jobs, add_user(engine, Plan.PRO), "hang")
            for _ in range(200):
                if job(engine, job_id).state == JobState.RUNNING:
                    break
                await asyncio.sleep(0.05)
            outcome["job_id"] = job_id
            ticks = [0]

            async def tick() -> None:
                while True:
                    await asyncio.sleep(0.05)
                    ticks[0] += 1

            ticker = asyncio.create_task(tick())
        outcome["ticks"] = ticks[0]  # counted while the lifespan was shutting down
        ticker.cancel()

    runner = threading.Thread(target=lambda: asyncio.run(serve_then_stop()), daemon=True)
    runner.start()
    runner.join(60)  # a hang is forever; a loaded CI machine can take tens of seconds
    try:
        assert not runner.is_alive(), "shutdown hung"
        assert outcome["ticks"] >= 5  # the loop kept running while the workers were stopped
        found = job(engine, outcome["job_id"])
        assert found.state == JobState.RUNNING and found.attempts == 1  # the reaper's, later
    finally:
        UNHANG.set()
