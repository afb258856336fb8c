from __future__ import annotations

import random

import pytest

from reelforge.errors import FFmpegError, InvalidInput, ProviderError
from reelforge.jobs.retry import ErrorClass, classify, decide


def test_errors_are_classified_by_type() -> None:
    assert classify(InvalidInput("bad")) is ErrorClass.VALIDATION
    assert classify(ProviderError("503")) is ErrorClass.PROVIDER
    assert classify(FFmpegError(["ffmpeg"], 1, "boom")) is ErrorClass.PROVIDER
    assert classify(RuntimeError("bug")) is ErrorClass.SYSTEM
    assert classify(OSError("disk full")) is ErrorClass.SYSTEM


def test_validation_never_retries() -> None:
    decision = decide(ErrorClass.VALIDATION, 1)
    assert not decision.retry and not decision.notify_admins


@pytest.mark.parametrize("attempts", [1, 2])
def test_provider_errors_back_off_exponentially_with_jitter(attempts: int) -> None:
    delays = {decide(ErrorClass.PROVIDER, attempts, random.Random(s)).delay_s for s in range(50)}
    ceiling = 2.0 * 2 ** (attempts - 1)
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(delays) > 40


def test_provider_errors_stop_after_three_attempts() -> None:
    assert decide(ErrorClass.PROVIDER, 2).retry
    assert not decide(ErrorClass.PROVIDER, 3).retry


def test_system_errors_retry_once_and_alert() -> None:
    first, second = decide(ErrorClass.SYSTEM, 1), decide(ErrorClass.SYSTEM, 2)
    assert first.retry and first.notify_admins
    assert not second.retry and second.notify_admins
