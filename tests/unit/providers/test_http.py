"""The provider HTTP layer over a real local server: error classes, retries honouring
Retry-After, backoff, and the circuit breaker."""

from __future__ import annotations

import httpx
import pytest

from reelforge.errors import InvalidInput, ProviderError
from reelforge.providers.http import (
    CircuitBreaker,
    ClientOptions,
    ProviderClient,
    RetryPolicy,
    retry_after_s,
)
from tests.support.stubs.base import StubResponse, StubServer


def ok(request: object, match: object) -> StubResponse:
    return StubResponse(json={"ok": True})


def client_for(
    stub: StubServer, slept: list[float], retry: RetryPolicy | None = None,
    breaker: CircuitBreaker | None = None,
) -> ProviderClient:  # fmt: skip
    options = ClientOptions(retry=retry, sleep=slept.append)
    return ProviderClient("acme", stub.url, options=options, breaker=breaker)


def test_a_bad_key_is_invalid_input_and_never_retried() -> None:
    slept: list[float] = []
    with StubServer({("GET", "/x"): ok}) as stub:
        stub.fail_next("/x", StubResponse(401, json={"error": {"message": "Incorrect API key"}}))
        with pytest.raises(InvalidInput, match=r"acme refused the API key.*Incorrect API key"):
            client_for(stub, slept).request("GET", "/x")
        assert stub.count() == 1 and slept == []


def test_429_waits_as_told_then_succeeds() -> None:
    slept: list[float] = []
    with StubServer({("GET", "/x"): ok}) as stub:
        stub.fail_next("/x", StubResponse(429, headers={"Retry-After": "3"}), StubResponse(503))
        response = client_for(stub, slept, retry=RetryPolicy(base_delay_s=0.5)).request("GET", "/x")
        assert response.json() == {"ok": True} and stub.count() == 3
    assert slept[0] == 3.0 and 0.0 <= slept[1] <= 1.0  # Retry-After, then jittered backoff


def test_persistent_5xx_is_a_provider_error_after_the_attempts() -> None:
    slept: list[float] = []
    with StubServer({("GET", "/x"): ok}) as stub:
        stub.fail_next("/x", *[StubResponse(500, json={"error": "boom"})] * 4)
        with pytest.raises(ProviderError, match="acme failed after 4 attempts: HTTP 500: boom"):
            client_for(stub, slept).request("GET", "/x")
        assert stub.count() == 4 and len(slept) == 3


def test_a_4xx_request_error_is_invalid_input() -> None:
    with StubServer({("GET", "/x"): ok}) as stub:
        stub.fail_next("/x", StubResponse(400, json={"message": "size must be 1024x1024"}))
        with pytest.raises(InvalidInput, match="size must be"):
            client_for(stub, []).request("GET", "/x")


def test_connection_refused_is_retried_then_a_provider_error() -> None:
    client = ProviderClient(
        "acme", "http://127.0.0.1:9", options=ClientOptions(sleep=lambda s: None)
    )
    with pytest.raises(ProviderError, match="connection failed"):
        client.request("GET", "/x")


def test_the_breaker_opens_after_repeated_failures_and_probes_after_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_s=10, clock=lambda: now[0])
    with StubServer({("GET", "/x"): ok}) as stub:
        client = client_for(stub, [], retry=RetryPolicy(attempts=1), breaker=breaker)
        stub.fail_next("/x", StubResponse(500), StubResponse(500))
        for _ in range(2):
            with pytest.raises(ProviderError):
                client.request("GET", "/x")
        with pytest.raises(ProviderError, match="not calling it"):
            client.request("GET", "/x")
        assert stub.count() == 2  # open: no call made
        now[0] = 11.0
        assert client.request("GET", "/x").json() == {"ok": True}


def test_retry_after_parses_seconds_and_dates() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after_s(response("2.5")) == 2.5
    assert retry_after_s(response("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # in the past
    assert retry_after_s(response("soon")) is None
    assert retry_after_s(httpx.Response(429)) is None
