"""Exponential back-off with jitter for retrying a database or connection that failed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """`next_s()` gives the pause before the next try: doubling from `first_s` up to `max_s`,
    each × 0.5–1 ("equal jitter", so workers that failed together do not retry together);
    `reset()` after a success."""

    first_s: float
    max_s: float
    _failures: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def next_s(self) -> float:
        ceiling = min(self.max_s, self.first_s * 2.0**self._failures)
        self._failures += 1
        return ceiling * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._failures = 0

    @property
    def failures(self) -> int:
        return self._failures
