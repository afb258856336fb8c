"""Webhook retry schedule: growing delays with jitter, nothing past the day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reelforge.jobs.webhook_retry import next_attempt_at, retry_delay_s

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def test_delays_grow_from_the_base_with_bounded_jitter() -> None:
    middle = [retry_delay_s(n, 5.0, lambda: 0.5) for n in range(1, 9)]
    assert middle == [5, 30, 120, 600, 3600, 10800, 21600, 21600]
    assert retry_delay_s(1, 5.0, lambda: 0.0) == 3.75
    assert retry_delay_s(1, 5.0, lambda: 1.0) == 6.25


def test_no_retry_is_scheduled_past_the_window() -> None:
    give_up = NOW + timedelta(days=1)
    assert next_attempt_at(1, NOW, give_up, 5.0, lambda: 0.5) == NOW + timedelta(seconds=5)
    assert next_attempt_at(7, NOW + timedelta(hours=20), give_up, 5.0, lambda: 0.5) is None


def test_a_day_allows_about_ten_attempts() -> None:
    now, attempts, give_up = NOW, 1, NOW + timedelta(days=1)
    while (when := next_attempt_at(attempts, now, give_up, 5.0, lambda: 0.5)) is not None:
        now, attempts = when, attempts + 1
    assert 9 <= attempts <= 11
