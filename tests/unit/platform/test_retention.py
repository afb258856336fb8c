"""The periodic prune: at once, then every interval, through failures, until stopped."""

from __future__ import annotations

import threading

from reelforge.platform.retention import PruneLoop
from reelforge.settings import Settings


def test_the_loop_prunes_at_once_then_again_and_survives_a_failure() -> None:
    calls: list[int] = []
    third = threading.Event()

    def prune() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("the database is down")
        if len(calls) == 3:
            third.set()

    loop = PruneLoop(prune, interval_s=0.01)
    loop.start()
    assert third.wait(5.0)
    assert loop.stop(5.0)
    stopped_at = len(calls)
    assert loop.stop(0)  # stopping twice is fine
    assert len(calls) == stopped_at


def test_a_loop_never_started_stops_at_once() -> None:
    assert PruneLoop(lambda: None, interval_s=3600).stop(0.1)


def test_deleted_files_go_at_once_unless_a_grace_period_is_set() -> None:
    assert Settings().retention.deleted_files_hours == 0
    assert Settings(retention={"deleted_files_hours": 72}).retention.deleted_files_hours == 72
