"""Rate limits as the API applies them, and what happens when their storage is down.

A Redis outage used to make every authenticated request a 503 (issue #22). Now the
general limits (per user on the API and on submits) fail *open*: the request goes on,
a warning is logged at most once per `LOG_EVERY_S`, and
`reelforge_ratelimit_unavailable_total{policy="open"}` counts it. The limits that stop
password guessing (sign-in, registration, refresh) fail *closed*: a 503, counted under
`policy="closed"`, because letting guesses through unlimited is worse than a short
outage of sign-in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from reelforge.errors import StorageError
from reelforge.logs import get_logger
from reelforge.security.ratelimit import RateLimiter

LOG_EVERY_S = 60.0
log = get_logger("reelforge.api.limits")


class Limits:
    """`hit` with a fail-open or fail-closed policy per call.

    Args:
        limiter: the counters (memory or Redis).
        registry: where the outage counter is registered (the app's `/metrics`).
        clock: monotonic seconds, for spacing the outage warnings.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        registry: CollectorRegistry,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limiter = limiter
        self._clock = clock
        self._lock = threading.Lock()
        self._last_warning: float | None = None
        self._unavailable = Counter(
            "reelforge_ratelimit_unavailable",
            "Rate-limit checks skipped (open) or refused (closed) as the storage was down",
            ["policy"],
            registry=registry,
        )

    def hit(self, rule: str, *key_parts: str, fail_open: bool) -> None:
        """Count a hit (see `RateLimiter.hit`).

        Raises:
            RateLimited: over the limit.
            StorageError: the storage is down and `fail_open` is False.
        """
        try:
            self.limiter.hit(rule, *key_parts)
        except StorageError as exc:
            policy = "open" if fail_open else "closed"
            self._unavailable.labels(policy=policy).inc()
            self._warn(exc, policy)
            if not fail_open:
                raise

    def clear(self, rule: str, *key_parts: str) -> None:
        """Forget a key's hits; an outage only means it stays counted a while longer."""
        try:
            self.limiter.clear(rule, *key_parts)
        except StorageError as exc:
            self._unavailable.labels(policy="open").inc()
            self._warn(exc, "open")

    def _warn(self, exc: StorageError, policy: str) -> None:
        now = self._clock()
        with self._lock:
            if self._last_warning is not None and now - self._last_warning < LOG_EVERY_S:
                return
            self._last_warning = now
        log.warning(
            "rate-limit storage unavailable: general limits fail open, sign-in limits closed",
            error=str(exc.__cause__ or exc), policy=policy, repeats_within_s=LOG_EVERY_S,
        )  # fmt: skip
