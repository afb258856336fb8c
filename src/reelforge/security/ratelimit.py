"""Request rate limits over the `limits` library, in memory or shared through Redis.

The moving-window strategy is used: both storages we support (memory, Redis)
implement it, and unlike a fixed window it has no boundary where a client gets twice
the limit (N at 0:59, N more at 1:00), which matters for login brute force. Its cost,
one Redis list of up to N timestamps per key, is small for the limits we set.

Synchronous on purpose: a Redis round trip is well under a millisecond, so the API
can call `hit` from a sync dependency (FastAPI runs it in the threadpool) or directly
without an async twin of every method.
"""

from __future__ import annotations

import functools
import math
import re
import time
from urllib.parse import quote, urlsplit

from limits import RateLimitItem, parse_many
from limits.errors import StorageError as LimitsStorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from reelforge.errors import InvalidInput, RateLimited, StorageError

STORAGE_SCHEMES = frozenset({"memory", "redis", "rediss", "redis+unix"})
REDIS_TIMEOUT_S = 1.0
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]+")  # no glob characters: reset() matches on it


class RateLimiter:
    """Counts hits per (rule, key parts) and refuses those over the rule.

    Args:
        storage_uri: `memory://` (one process) or `redis://host:port/db` (shared by
            all API replicas).
        namespace: prefixes every Redis key, so two deployments sharing one Redis
            neither collide nor clear each other's counters.
    """

    __slots__ = ("_limiter", "_storage")

    def __init__(self, storage_uri: str, *, namespace: str = "reelforge") -> None:
        scheme = urlsplit(storage_uri).scheme
        if scheme not in STORAGE_SCHEMES:
            raise InvalidInput(
                f"Rate-limit storage must be memory:// or redis://host:port/db, not {scheme!r}."
            )
        if not _NAMESPACE.fullmatch(namespace):
            raise InvalidInput("Rate-limit namespace may only use letters, digits, '_', '.', '-'.")
        options: dict[str, float | str] = {}
        if scheme != "memory":
            # Fail fast rather than hang requests when Redis is unreachable.
            options = {
                "key_prefix": f"{namespace}:ratelimit",
                "socket_timeout": REDIS_TIMEOUT_S,
                "socket_connect_timeout": REDIS_TIMEOUT_S,
            }
        storage = storage_from_string(storage_uri, wrap_exceptions=True, **options)
        if not isinstance(storage, Storage):  # pragma: no cover - the schemes above are sync
            raise InvalidInput(f"Rate-limit storage {scheme!r} is not a synchronous storage.")
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)

    def hit(self, rule: str, *key_parts: str) -> None:
        """Count one hit against `rule` (e.g. "5/minute", or "5/minute;20/hour" for a
        back-off: every window counts the hit, the longest refusal wins) for this key.

        Start the key with the action so rules don't share counters by accident:
        `hit("5/minute", "login", email)`.

        Raises:
            RateLimited: over the limit; `retry_after_s` (>= 1) says when to retry.
            InvalidInput: the rule does not parse.
            StorageError: Redis is unreachable (the caller picks fail-open or closed).
        """
        keys = _keys(key_parts)
        reset_at = 0.0
        try:
            for item in _parse(rule):  # "5/minute;20/hour": each window counts the hit
                if not self._limiter.hit(item, *keys):
                    stats = self._limiter.get_window_stats(item, *keys)
                    reset_at = max(reset_at, stats.reset_time)
        except LimitsStorageError as exc:
            raise StorageError("Rate-limit storage is unavailable.") from exc
        if not reset_at:
            return
        retry_after_s = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(
            f"Too many requests; try again in {retry_after_s} s.", retry_after_s=retry_after_s
        )

    def clear(self, rule: str, *key_parts: str) -> None:
        """Forget the hits for one key (e.g. failed logins after a successful one)."""
        try:
            for item in _parse(rule):
                self._limiter.clear(item, *_keys(key_parts))
        except LimitsStorageError as exc:
            raise StorageError("Rate-limit storage is unavailable.") from exc

    def reset(self) -> None:
        """Forget every counter in this namespace (tests, or an admin action)."""
        try:
            self._storage.reset()
        except LimitsStorageError as exc:
            raise StorageError("Rate-limit storage is unavailable.") from exc


@functools.lru_cache(maxsize=64)
def _parse(rule: str) -> tuple[RateLimitItem, ...]:
    try:
        return tuple(parse_many(rule))
    except ValueError as exc:
        raise InvalidInput(
            f"Invalid rate-limit rule {rule!r}; expected e.g. '5/minute' or '5/minute;20/hour'."
        ) from exc


def _keys(key_parts: tuple[str, ...]) -> list[str]:
    # limits joins parts with "/": escape it so ("a/b", "c") and ("a", "b/c") differ.
    return [quote(part, safe="") for part in key_parts]
