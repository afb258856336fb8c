"""What to do after a failed attempt, by error class (the brief's Error Handling Flow).

- validation: the input is wrong; another try gives the same answer → fail at once.
- provider:   a voice/LLM/image service failed; likely transient → up to 3 attempts,
              exponential backoff with jitter.
- system:     our side broke (disk full, ffmpeg crash or hang, bug, the server's provider key
              refused) → notify admins, retry once.

A full disk is a system error whatever raised it: `ENOSPC`/`EDQUOT` anywhere in the error's
cause chain, or ffmpeg saying so, outranks the error's own class.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass
from enum import StrEnum

from reelforge.errors import FFmpegError, InvalidInput, ReelforgeError

PROVIDER_MAX_ATTEMPTS = 3
SYSTEM_MAX_ATTEMPTS = 2
BASE_DELAY_S = 2.0
MAX_DELAY_S = 120.0


class ErrorClass(StrEnum):
    VALIDATION = "validation"
    PROVIDER = "provider"
    SYSTEM = "system"


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_FULL_TEXT = "No space left on device"


def disk_full(error: BaseException) -> bool:
    """Whether `error`, or anything in its cause/context chain, is a full disk or quota."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(current, FFmpegError) and DISK_FULL_TEXT in current.stderr_tail:
            return True
        current = current.__cause__ or current.__context__
    return False


def classify(error: BaseException) -> ErrorClass:
    if disk_full(error):
        return ErrorClass.SYSTEM
    if isinstance(error, InvalidInput):
        return ErrorClass.VALIDATION
    if isinstance(error, ReelforgeError) and error.retryable:
        return ErrorClass.PROVIDER
    return ErrorClass.SYSTEM


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry: bool
    delay_s: float = 0.0
    notify_admins: bool = False


def decide(
    error_class: ErrorClass, attempts: int, rng: random.Random | None = None
) -> RetryDecision:
    """Decision after `attempts` attempts (counting the one that just failed)."""
    if error_class is ErrorClass.VALIDATION:
        return RetryDecision(retry=False)
    if error_class is ErrorClass.SYSTEM:
        return RetryDecision(
            retry=attempts < SYSTEM_MAX_ATTEMPTS, delay_s=BASE_DELAY_S, notify_admins=True
        )
    if attempts >= PROVIDER_MAX_ATTEMPTS:
        return RetryDecision(retry=False)
    ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempts - 1))
    jitter = (rng or random.Random()).uniform(0.5, 1.0)  # "equal jitter": never 0, ≤ ceiling
    return RetryDecision(retry=True, delay_s=ceiling * jitter)
