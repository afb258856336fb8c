"""When a failed webhook delivery is tried again: pure policy, like `retry.py` for jobs.

Delays grow from a base (5 s by default): 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, then every 6 h,
each × 0.75–1.25 jitter so that endpoints which failed together (a receiver's outage) are not
all retried in the same second. No retry is scheduled past the delivery's window (a day): about
ten attempts in all.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

BACKOFF_FACTORS = (1, 6, 24, 120, 720, 2160, 4320)
"""Multiples of the base delay for the 1st, 2nd... retry; the last repeats."""
JITTER = 0.25


def retry_delay_s(
    attempts: int, base_delay_s: float, rand: Callable[[], float] = random.random
) -> float:
    """The wait before the next attempt after `attempts` (≥ 1) have failed."""
    factor = BACKOFF_FACTORS[min(attempts, len(BACKOFF_FACTORS)) - 1]
    return base_delay_s * factor * (1 - JITTER + 2 * JITTER * rand())


def next_attempt_at(
    attempts: int,
    now: datetime,
    give_up_at: datetime,
    base_delay_s: float,
    rand: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again, or None when that would be past `give_up_at` (the delivery fails)."""
    when = now + timedelta(seconds=retry_delay_s(attempts, base_delay_s, rand))
    return when if when <= give_up_at else None
