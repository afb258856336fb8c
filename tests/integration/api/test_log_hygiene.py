"""Nothing secret reaches a log line: every log output is captured (structlog at DEBUG,
and the standard library's loggers, SQLAlchemy's included, at DEBUG) while a user signs
up, signs in, refreshes, stores a provider key, makes an API key and a WebSocket ticket,
fails a sign-in, and while the database refuses a write; then each line is scanned for
the password, its Argon2 hash, the tokens, keys and stored secret."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session

from reelforge import logs
from reelforge.db.crud import users
from reelforge.db.models import User
from reelforge.jobs.alerts import WebhookAlert

from .conftest import PASSWORD

DB_ERROR_PASSWORD = "another horse battery"


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """`read()` returns every line logged so far, both logging systems, at DEBUG, rendered
    as in production (JSON lines)."""
    logs.configure("DEBUG")
    rendered = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(rendered))
    caplog.set_level(logging.DEBUG)

    def read() -> list[str]:
        return [*rendered.getvalue().splitlines(), *caplog.text.splitlines()]

    yield read
    structlog.reset_defaults()


def fail_after_insert(monkeypatch: pytest.MonkeyPatch, hashes: list[str]) -> None:
    """users.create then inserts the same row again: the database refuses the duplicate
    key in a statement whose parameters hold the new password hash."""
    create = users.create

    def create_twice(session: Session, **fields: Any) -> User:
        user = create(session, **fields)
        hashes.append(user.password_hash or "")
        columns = {"id": user.id, "email": f"dup-{user.email}", "name": user.name,
                   "password_hash": user.password_hash, "plan": user.plan,
                   "is_admin": False, "created_at": user.created_at}  # fmt: skip
        session.execute(insert(User).values(**columns))
        return user

    monkeypatch.setattr("reelforge.api.routes.auth.users.create", create_twice)


def assert_clean(lines: list[str], secrets: dict[str, str]) -> None:
    assert lines, "nothing was logged: the capture is broken"
    for name, secret in secrets.items():
        leaked = [line for line in lines if secret in line]
        assert not leaked, f"the {name} was logged: {leaked[0][:300]}"


def test_no_secret_in_any_log_line(
    client: TestClient, all_logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = f"careful-{uuid.uuid4().hex[:6]}@example.org"
    secrets: dict[str, str] = {"password": PASSWORD}
    assert client.post("/api/v1/auth/register",
                       json={"email": email, "password": PASSWORD}).status_code == 201  # fmt: skip
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    secrets |= {"access token": login["access_token"], "refresh token": login["refresh_token"]}
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    secrets["refreshed token"] = refreshed.json()["access_token"]
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert reused.status_code == 401  # reuse: the session is revoked, and audited
    secrets["wrong password"] = "guess-" + uuid.uuid4().hex
    client.post("/api/v1/auth/login", json={"email": email, "password": secrets["wrong password"]})
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    secrets["provider key"] = "sk-proj-" + uuid.uuid4().hex
    put = client.put("/api/v1/users/me/secrets/openai", json={"value": secrets["provider key"]},
                     headers=headers)  # fmt: skip
    assert put.status_code == 200, put.text
    key = client.post("/api/v1/auth/api-keys", json={"name": "ci"}, headers=headers).json()
    secrets["API key"] = key["key"]
    ticket = client.post("/api/v1/ws-ticket", headers=headers).json()["ticket"]
    secrets["WebSocket ticket"] = ticket
    client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {key['key']}"})
    client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {key['key']}x"})

    failed_hashes: list[str] = []
    fail_after_insert(monkeypatch, failed_hashes)
    server_side = TestClient(
        client.app, base_url="https://testserver", raise_server_exceptions=False
    )
    failed = server_side.post("/api/v1/auth/register",
                         json={"email": f"dup-{email}", "password": DB_ERROR_PASSWORD})  # fmt: skip
    assert failed.status_code in (409, 500)
    secrets["password of the failed sign-up"] = DB_ERROR_PASSWORD
    secrets["hash of the failed sign-up"] = failed_hashes[0]

    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.sessions() as session:
        for user in session.query(User).all():
            if user.password_hash:
                secrets[f"hash of {user.email}"] = user.password_hash
                secrets[f"hash salt of {user.email}"] = user.password_hash.split("$")[4]
    lines = all_logs()
    assert any("unhandled error" in line or "IntegrityError" in line for line in lines) or (
        failed.status_code == 409
    )
    assert_clean(lines, secrets)


def test_a_failing_admin_webhook_does_not_log_its_url(all_logs: Any) -> None:
    url = f"http://127.0.0.1:9/hooks/T0K3N-{uuid.uuid4().hex}"
    WebhookAlert(url)(uuid.uuid4(), "render failed on our side", "compose").join(10)
    lines = all_logs()
    assert any("webhook" in line for line in lines)
    assert_clean(lines, {"webhook URL": url, "webhook token": url.rsplit("/", 1)[1]})
