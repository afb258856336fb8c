"""Shutdown of the API's background tasks never hangs on a task that ignores cancellation."""

from __future__ import annotations

import asyncio

from reelforge.api.background import cancel_all


def test_a_task_that_ignores_cancellation_is_left_behind_not_waited_for() -> None:
    async def scenario() -> tuple[bool, bool]:
        released = asyncio.Event()

        async def stubborn() -> None:  # like a driver call that swallows the cancel
            while not released.is_set():
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    continue

        async def polite() -> None:
            await asyncio.sleep(10)

        stuck, stopped = asyncio.create_task(stubborn()), asyncio.create_task(polite())
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_all([stuck, stopped], wait_s=0.2), timeout=5)
        outcome = (stuck.done(), stopped.cancelled())
        released.set()
        stuck.cancel()
        await stuck
        return outcome

    assert asyncio.run(scenario()) == (False, True)
