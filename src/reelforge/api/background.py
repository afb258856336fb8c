"""Stopping the API process's own background tasks (live events, readiness monitor)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from reelforge.logs import get_logger

log = get_logger(__name__)

STOP_WAIT_S = 5.0
"""How long shutdown waits for cancelled tasks: a task stuck in a driver call that does not
give way to cancellation (seen with a PostgreSQL LISTEN connection) must not hang the
process's shutdown."""


async def cancel_all(tasks: Sequence[asyncio.Task[None]], wait_s: float = STOP_WAIT_S) -> None:
    """Cancel `tasks` and wait for them up to `wait_s`; one that will not end is logged and
    left behind, and one that failed meanwhile has its error logged."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    done, stuck = await asyncio.wait(tasks, timeout=wait_s)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", task=task.get_name(), error=str(task.exception()))
    if stuck:
        log.warning("background tasks did not stop in time", tasks=[t.get_name() for t in stuck])
