"""Password guessing: per-account limits with back-off, the client IP behind proxies,
breached passwords at sign-up, and what a Redis outage does to the limits."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from structlog.testing import capture_logs

from reelforge.api.app import create_app
from reelforge.platform.services import Platform

from .conftest import PASSWORD, ClientFactory, settings_for, sign_up

LOGIN = "/api/v1/auth/login"
METRICS_TOKEN = "metrics-" + "m" * 32


def guess(client: TestClient, email: str, ip: str, password: str = "wrong-guess-1") -> int:
    """A login from `ip` as our load balancer reports it (the right-most entry)."""
    headers = {"X-Forwarded-For": f"6.6.6.6, {ip}"}
    body = {"email": email, "password": password}
    return client.post(LOGIN, json=body, headers=headers).status_code


def test_guesses_from_many_addresses_are_limited_per_account(make_client: ClientFactory) -> None:
    client = make_client(api={"rate_login_account": "3/minute;5/hour", "rate_auth": "9/minute",
                              "trust_proxy_headers": True})  # fmt: skip
    email = f"victim-{uuid.uuid4().hex[:6]}@example.org"
    sign_up(client, email)
    codes = [guess(client, email, f"203.0.113.{i}") for i in range(25)]
    assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}
    # Even the right password waits: the guesser cannot tell it was right.
    limited = client.post(LOGIN, json={"email": email, "password": PASSWORD},
                          headers={"X-Forwarded-For": "203.0.113.99"})  # fmt: skip
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 60
    assert limited.json()["type"] == "urn:reelforge:problem:rate-limited"
    # ...and the same address spelled otherwise is the same account.
    assert guess(client, email.upper(), "203.0.113.100") == 429
    # Another account is not affected.
    other = f"other-{uuid.uuid4().hex[:6]}@example.org"
    sign_up(client, other)
    assert guess(client, other, "203.0.113.101") == 401


def test_a_successful_sign_in_clears_the_account_counter(make_client: ClientFactory) -> None:
    client = make_client(api={"rate_login_account": "3/minute"})
    email = f"forgetful-{uuid.uuid4().hex[:6]}@example.org"
    sign_up(client, email)  # one successful login
    assert [guess(client, email, "192.0.2.1") for _ in range(2)] == [401, 401]
    assert guess(client, email, "192.0.2.1", PASSWORD) == 200
    assert [guess(client, email, "192.0.2.1") for _ in range(3)] == [401, 401, 401]


def test_a_spoofed_forwarded_for_does_not_reset_the_ip_limit(make_client: ClientFactory) -> None:
    client = make_client(api={"rate_auth": "3/minute", "trust_proxy_headers": True})
    codes = [
        client.post(LOGIN, json={"email": f"u{i}@example.org", "password": "wrong-guess-1"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7"}).status_code
        for i in range(5)
    ]  # fmt: skip
    assert codes == [401, 401, 401, 429, 429]


def test_only_configured_proxies_are_believed(make_client: ClientFactory) -> None:
    client = make_client(api={"rate_auth": "2/minute", "trust_proxy_headers": True,
                              "trusted_proxies": ["10.0.0.0/8"]})  # fmt: skip
    # The test client connects from "testclient", not from 10/8: its header is ignored.
    codes = [
        client.post(LOGIN, json={"email": "a@example.org", "password": "wrong-guess-1"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(3)
    ]  # fmt: skip
    assert codes == [401, 401, 429]


@pytest.mark.parametrize("password", ["Password1!", "Summer2024!", "P@ssw0rd2024"])
def test_breached_passwords_are_refused_at_sign_up_naming_the_field(
    client: TestClient, password: str
) -> None:
    response = client.post("/api/v1/auth/register",
                           json={"email": "new@example.org", "password": password})  # fmt: skip
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:reelforge:problem:invalid-input"
    assert problem["errors"][0]["field"] == "password"
    assert "too easy to guess" in problem["errors"][0]["message"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


@pytest.fixture
def redis_down(
    make_client: ClientFactory, engine: Engine, db_url: str, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A signed-in user, then an API process whose Redis is unreachable."""
    headers = sign_up(make_client())
    settings = settings_for(db_url, tmp_path, api={"metrics_token": METRICS_TOKEN})
    settings = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed_port()}/0"})
    with TestClient(create_app(Platform(settings)), base_url="https://testserver") as client:
        yield client, headers


def test_a_redis_outage_fails_open_for_the_api_and_closed_for_sign_in(
    redis_down: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = redis_down
    with capture_logs() as logged:
        reads = [client.get("/api/v1/users/me", headers=headers).status_code for _ in range(5)]
        login = client.post(LOGIN, json={"email": "a@example.org", "password": PASSWORD})
        register = client.post("/api/v1/auth/register",
                               json={"email": "b@example.org", "password": PASSWORD})  # fmt: skip
    assert reads == [200] * 5
    for refused in (login, register):
        assert refused.status_code == 503
        assert refused.json()["type"] == "urn:reelforge:problem:storage-unavailable"
    warnings = [e for e in logged if e["event"].startswith("rate-limit storage unavailable")]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    metrics = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200, metrics.text
    lines = metrics.text.splitlines()
    assert 'reelforge_ratelimit_unavailable_total{policy="open"} 5.0' in lines
    assert 'reelforge_ratelimit_unavailable_total{policy="closed"} 2.0' in lines
