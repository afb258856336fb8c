"""The limiter against memory:// and against the real Redis (REELFORGE_TEST_REDIS).

Each Redis test uses its own random namespace and removes its keys afterwards.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from reelforge.errors import InvalidInput, RateLimited, StorageError
from reelforge.security.ratelimit import RateLimiter

REDIS_URL = os.environ.get("REELFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    client.ping()  # no Redis is a failure, not a skip: the suite must really run
    yield client
    client.close()


def _namespaced_keys(client: redis.Redis, namespace: str) -> list[bytes]:
    return list(client.scan_iter(match=f"{namespace}:*"))


@pytest.fixture
def redis_limiter(redis_client: redis.Redis) -> Iterator[RateLimiter]:
    namespace = f"test-{uuid.uuid4().hex}"
    limiter = RateLimiter(REDIS_URL, namespace=namespace)
    yield limiter
    limiter.reset()
    assert _namespaced_keys(redis_client, namespace) == []


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return RateLimiter("memory://")
    result: RateLimiter = request.getfixturevalue("redis_limiter")
    return result


def _hit_until_limited(limiter: RateLimiter, rule: str, *key: str) -> tuple[int, RateLimited]:
    for allowed in range(1000):
        try:
            limiter.hit(rule, *key)
        except RateLimited as exc:
            return allowed, exc
    raise AssertionError("never rate limited")


def test_n_allowed_then_limited(limiter: RateLimiter) -> None:
    allowed, refused = _hit_until_limited(limiter, "3/minute", "login", "a@example.com")
    assert allowed == 3
    assert 1 <= refused.retry_after_s <= 60
    assert f"{refused.retry_after_s} s" in refused.message
    with pytest.raises(RateLimited):  # refused hits don't free a slot
        limiter.hit("3/minute", "login", "a@example.com")


def test_retry_after_is_at_least_one_second(limiter: RateLimiter) -> None:
    _, refused = _hit_until_limited(limiter, "2/second", "burst")
    assert refused.retry_after_s == 1


def test_keys_and_rules_are_independent(limiter: RateLimiter) -> None:
    _hit_until_limited(limiter, "2/minute", "login", "a@example.com")
    limiter.hit("2/minute", "login", "b@example.com")
    limiter.hit("2/minute", "signup", "a@example.com")
    limiter.hit("5/minute", "login", "a@example.com")


def test_slash_in_key_parts_does_not_merge_keys(limiter: RateLimiter) -> None:
    _hit_until_limited(limiter, "1/minute", "a/b", "c")
    limiter.hit("1/minute", "a", "b/c")


def test_clear_forgets_one_key(limiter: RateLimiter) -> None:
    _hit_until_limited(limiter, "2/minute", "login", "a")
    _hit_until_limited(limiter, "2/minute", "login", "b")
    limiter.clear("2/minute", "login", "a")
    limiter.hit("2/minute", "login", "a")
    with pytest.raises(RateLimited):
        limiter.hit("2/minute", "login", "b")


def test_reset_forgets_everything(limiter: RateLimiter) -> None:
    _hit_until_limited(limiter, "1/minute", "x")
    limiter.reset()
    limiter.hit("1/minute", "x")


def test_window_moves_on(redis_limiter: RateLimiter) -> None:
    # Both storages in one test so the suite sleeps only once.
    limiters = [RateLimiter("memory://"), redis_limiter]
    for each in limiters:
        _hit_until_limited(each, "2/second", "k")
    time.sleep(1.05)
    for each in limiters:
        each.hit("2/second", "k")


def test_redis_namespaces_are_isolated(
    redis_client: redis.Redis, redis_limiter: RateLimiter
) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    neighbour = RateLimiter(REDIS_URL, namespace=namespace)
    try:
        _hit_until_limited(neighbour, "1/minute", "k")
        assert _namespaced_keys(redis_client, namespace)
        redis_limiter.hit("1/minute", "k")  # same rule and key, other namespace
        redis_limiter.reset()
        with pytest.raises(RateLimited):  # the other app's counters survive our reset
            neighbour.hit("1/minute", "k")
    finally:
        neighbour.reset()
    assert _namespaced_keys(redis_client, namespace) == []


def test_unreachable_redis_raises_storage_error() -> None:
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(StorageError, match="unavailable"):
        limiter.hit("5/minute", "k")


@pytest.mark.parametrize("uri", ["memcached://127.0.0.1:11211", "async+memory://", "nonsense"])
def test_unsupported_storage_is_refused(uri: str) -> None:
    with pytest.raises(InvalidInput, match="memory://"):
        RateLimiter(uri)


@pytest.mark.parametrize("namespace", ["", "a*b", "has space", "a:b"])
def test_bad_namespace_is_refused(namespace: str) -> None:
    with pytest.raises(InvalidInput, match="namespace"):
        RateLimiter("memory://", namespace=namespace)


@pytest.mark.parametrize("rule", ["", "five per minute", "5/fortnight"])
def test_bad_rule_is_refused(rule: str) -> None:
    with pytest.raises(InvalidInput, match="rate-limit rule"):
        RateLimiter("memory://").hit(rule, "k")
