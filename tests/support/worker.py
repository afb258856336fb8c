"""`python -m tests.support.worker`: what `reelforge worker` runs, plus the test job kinds
(`noop`, `sleep`: never registered in production), for crash tests that kill a worker process.
Settings come from `REELFORGE_*` like the real command; SIGTERM is a graceful stop."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from reelforge.jobs.testing import TEST_KINDS
from reelforge.jobs.worker import Worker, WorkerTimings
from reelforge.platform.services import Platform
from reelforge.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stale-after", type=float, default=15.0)
    parser.add_argument("--reap-every", type=float, default=5.0)
    parser.add_argument("--heartbeat", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    platform = Platform(Settings())
    timings = WorkerTimings(
        heartbeat_s=args.heartbeat, poll_s=0.2, stale_after_s=args.stale_after,
        reap_every_s=args.reap_every,
    )  # fmt: skip
    worker = Worker(platform.jobs, {**platform.job_kinds(), **TEST_KINDS}, timings=timings)

    def _stop(signum: int, frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()


if __name__ == "__main__":
    main()
