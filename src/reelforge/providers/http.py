"""Calling remote providers reliably: one place for timeouts, retries, backoff with jitter
honouring `Retry-After`, a circuit breaker and a concurrency cap per provider, and the
mapping of HTTP failures onto the queue's error classes.

    401/403           → the key's owner must fix it, retrying cannot help:
                        InvalidInput        a key the user gave (their own, or the CLI's)
                        ConfigurationError  the server's key (`key_owner="server"`): a
                                            system error, the operator is alerted
    400/404/422       → InvalidInput  (the request itself is wrong)
    408/409/429/5xx   → retried here, then ProviderError (the queue may retry later)
    timeouts, resets  → retried here, then ProviderError
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from reelforge.errors import ConfigurationError, InvalidInput, ProviderError

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BAD_KEY_STATUSES = frozenset({401, 403})
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        """Full-jitter exponential backoff, or the server's `Retry-After` when it gives one."""
        if retry_after_s is not None:
            return min(retry_after_s, MAX_RETRY_AFTER_S)
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0, cap)


def retry_after_s(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), if present and sane."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


@dataclass
class CircuitBreaker:
    """After `threshold` consecutive failures, fail fast for `cooldown_s`, then let one
    call through to probe: a provider that is down costs one timeout, not one per scene."""

    threshold: int = 5
    cooldown_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _failures: int = 0
    _opened_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, name: str) -> None:
        with self._lock:
            if self._opened_at is None:
                return
            if self.clock() - self._opened_at < self.cooldown_s:
                raise ProviderError(f"{name} is failing; not calling it for a while")
            self._opened_at = None  # half-open: this call probes
            self._failures = self.threshold - 1

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self.clock()


def _detail(response: httpx.Response) -> str:
    """The vendor's own error message when it sends one (kept short)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message", body)))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:200]
    return str(body)[:200]


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How a provider's client calls: timeout and concurrency cap (from settings), and
    the retry policy, transport and sleep that tests replace."""

    timeout_s: float = 60.0
    max_concurrency: int = 4
    transport: httpx.BaseTransport | None = None
    retry: RetryPolicy | None = None
    sleep: Callable[[float], None] = time.sleep
    key_owner: Literal["user", "server"] = "user"
    """Whose API key this client sends: a refused user's key is their input to fix, a
    refused server key is the operator's (`ConfigurationError`)."""


class ProviderClient:
    """An httpx client for one provider. `request` returns a 2xx response or raises
    `InvalidInput` / `ProviderError` with a message naming the provider."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        options: ClientOptions | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        opts = options or ClientOptions()
        self.name = name
        self.options = opts
        self.retry = opts.retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._slots = threading.BoundedSemaphore(opts.max_concurrency)
        self._sleep = opts.sleep
        self._http = httpx.Client(
            base_url=base_url, headers=headers or {}, transport=opts.transport,
            timeout=httpx.Timeout(opts.timeout_s, connect=min(opts.timeout_s, 10.0)),
            follow_redirects=True,
        )  # fmt: skip

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            self.breaker.check(self.name)
            wait: float | None = None
            try:
                with self._slots:
                    response = self._http.request(method, url, **kwargs)
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__})"
            else:
                if response.is_success:
                    self.breaker.success()
                    return response
                status = response.status_code
                if status in BAD_KEY_STATUSES:
                    raise self._key_refused(status, _detail(response))
                if status not in RETRY_STATUSES:
                    raise InvalidInput(
                        f"{self.name} rejected the request ({status}): {_detail(response)}"
                    )
                last = f"HTTP {status}: {_detail(response)}"
                wait = retry_after_s(response)
            self.breaker.failure()
            if attempt < self.retry.attempts:
                self._sleep(self.retry.delay_s(attempt, wait))
        raise ProviderError(f"{self.name} failed after {self.retry.attempts} attempts: {last}")

    def _key_refused(self, status: int, detail: str) -> InvalidInput | ConfigurationError:
        if self.options.key_owner == "server":
            return ConfigurationError(
                f"{self.name} refused the server's API key ({status}): {detail}"
            )
        return InvalidInput(f"{self.name} refused the API key ({status}): {detail}")
