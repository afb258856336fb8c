from __future__ import annotations

import errno
import random

import pytest

from reelforge.errors import (
    ConfigurationError,
    FFmpegError,
    InvalidInput,
    ProviderError,
    RenderError,
    StorageError,
)
from reelforge.jobs.retry import ErrorClass, classify, decide


def test_errors_are_classified_by_type() -> None:
    assert classify(InvalidInput("bad")) is ErrorClass.VALIDATION
    assert classify(ProviderError("503")) is ErrorClass.PROVIDER
    assert classify(StorageError("S3 answered 503")) is ErrorClass.PROVIDER
    assert classify(RuntimeError("bug")) is ErrorClass.SYSTEM
    assert classify(OSError("disk full")) is ErrorClass.SYSTEM


def test_an_ffmpeg_crash_or_hang_is_our_side_a_system_error() -> None:
    """docs/queue.md: ffmpeg crashes are ours (alert the admins, retry once), not a provider's."""
    assert classify(FFmpegError(["ffmpeg"], -11, "Segmentation fault")) is ErrorClass.SYSTEM
    assert classify(FFmpegError(["ffmpeg"], -9, "", timeout_s=30)) is ErrorClass.SYSTEM
    assert classify(RenderError("no narration to place")) is ErrorClass.SYSTEM


def test_a_full_disk_is_a_system_error_whatever_wrapped_it() -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    try:
        raise StorageError("cannot write the cache", stage="voice") from full
    except StorageError as wrapped:
        assert classify(wrapped) is ErrorClass.SYSTEM
    ffmpeg_said = FFmpegError(
        ["ffmpeg"], 1, "av_interleaved_write_frame(): No space left on device"
    )
    assert classify(ffmpeg_said) is ErrorClass.SYSTEM


def test_the_servers_own_misconfiguration_is_a_system_error() -> None:
    assert classify(ConfigurationError("openai refused the server's key")) is ErrorClass.SYSTEM


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
