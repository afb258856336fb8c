"""The API on SQLite and on PostgreSQL + Redis, through httpx (Starlette's TestClient).

`make_client(**overrides)` builds an app over the test database with settings tweaked per
test; rate limits are generous unless a test asks for tight ones.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reelforge.api.app import create_app
from reelforge.platform.services import Platform
from reelforge.security.ratelimit import RateLimiter
from reelforge.settings import Settings

REDIS_URL = os.environ.get("REELFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery"
GENEROUS = {
    "rate_auth": "1000/minute",
    "rate_login_account": "1000/minute",
    "rate_submit": "1000/minute",
    "rate_api": "10000/minute",
}

ClientFactory = Callable[..., TestClient]


def settings_for(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    api = GENEROUS | overrides.pop("api", {})
    return Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        database_url=db_url,
        secret_key="test-secret-" + "k" * 40,
        redis_url=REDIS_URL if db_url.startswith("postgresql") else None,
        api=api,
        **overrides,
    )


@pytest.fixture
def make_client(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[ClientFactory]:
    """`engine` (from the integration conftest) empties the tables first."""
    clients: list[TestClient] = []

    def build(*, workers: int = 0, **overrides: Any) -> TestClient:
        platform = Platform(settings_for(db_url, tmp_path, **overrides))
        if platform.settings.redis_url == REDIS_URL:
            # Redis is shared with other test runs on this machine, whose reset() would
            # clear our counters mid-test: a namespace of our own per client.
            platform.__dict__["limiter"] = RateLimiter(REDIS_URL, namespace=f"test-{uuid.uuid4()}")
        platform.limiter.reset()
        client = TestClient(create_app(platform, workers=workers), base_url="https://testserver")
        client.__enter__()  # runs the lifespan: event poller, workers
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


def sign_up(client: TestClient, email: str | None = None) -> dict[str, str]:
    """Register and log in; returns the Authorization header."""
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.org"
    created = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def new_project(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "Tides", "prompt": "Tides rise twice a day. The moon pulls the oceans."}
    response = client.post("/api/v1/projects", json=body | fields, headers=headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project
