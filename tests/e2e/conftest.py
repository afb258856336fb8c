"""Browser end-to-end fixtures: one `reelforge serve` (as `make run` starts it) per test
module, Debian's Chromium per session, a fresh browser context per test."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import start_serve

PASSWORD = "correct horse battery"
DATA_DIRS: dict[str, Path] = {}
"""Each running server's data folder (its SQLite database), by base URL."""
GENEROUS_LIMITS = {
    "REELFORGE_API__RATE_AUTH": "1000/minute",
    "REELFORGE_API__RATE_SUBMIT": "1000/minute",
    "REELFORGE_API__RATE_API": "100000/minute",
}


PG_SERVER = os.environ.get("REELFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`reelforge serve` with one render worker on a free port (the embedded default:
    SQLite and local files); its base URL."""
    yield from serve(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def pg_web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same on a fresh PostgreSQL database (dropped afterwards)."""
    from sqlalchemy import create_engine, text

    name = f"reelforge_web_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield from serve(
            tmp_path_factory.mktemp("web-pg"), REELFORGE_DATABASE_URL=f"{PG_SERVER}/{name}"
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def serve(root: Path, **extra_env: str) -> Iterator[str]:
    server = start_serve(root, env=extra_env | GENEROUS_LIMITS)
    DATA_DIRS[server.base] = root / "data"
    yield server.base
    server.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests, closed when they are done: Playwright's sync API
    keeps an event loop running in this thread until then, which asyncio.run() elsewhere in
    the session would trip over."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import chromium_path, launch_args

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=launch_args(), headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """`new_page(phone=False)`: a page in a fresh context (its own cookies); axe may be
    injected (bypass_csp), downloads are accepted."""
    from tests.e2e.browser import DESKTOP, PHONE

    contexts: list[Any] = []

    def make(*, phone: bool = False) -> Any:
        context = browser.new_context(
            viewport=PHONE if phone else DESKTOP, bypass_csp=True, accept_downloads=True,
            device_scale_factor=1, is_mobile=phone, has_touch=phone,
        )  # fmt: skip
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        return page

    yield make
    for context in contexts:
        context.close()


class Api:
    """The public API with httpx, to arrange what a test does not drive in the browser."""

    def __init__(self, base: str, email: str | None = None) -> None:
        """A new account, or (`email`) one that exists, signed in."""
        self.email = email or f"user-{uuid.uuid4().hex[:8]}@example.org"
        self.http = httpx.Client(base_url=f"{base}/api/v1", timeout=60)
        if email is None:
            body = {"email": self.email, "password": PASSWORD}
            created = self.http.post("/auth/register", json=body)
            assert created.status_code == 201, created.text
        self.login()

    def login(self) -> dict[str, Any]:
        tokens: dict[str, Any] = self.http.post(
            "/auth/login", json={"email": self.email, "password": PASSWORD}
        ).json()
        self.http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        return tokens

    def project(self, **fields: Any) -> dict[str, Any]:
        body = {
            "name": "Tides",
            "prompt": "Tides rise twice a day. The moon pulls the oceans toward it. "
            "The sun helps a little too.",
            "settings": {
                "resolution": "480p",
                "target_duration_s": 10,
                "music": {"enabled": False},
            },
        } | fields
        response = self.http.post("/projects", json=body)
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()
        return project

    def render(self, project_id: str) -> dict[str, Any]:
        render = self.http.post(f"/projects/{project_id}/renders").json()
        deadline = time.monotonic() + 240
        while (status := self.http.get(f"/renders/{render['id']}").json())["status"] in (
            "queued", "running",
        ):  # fmt: skip
            assert time.monotonic() < deadline, status
            time.sleep(0.3)
        assert status["status"] == "succeeded", status
        return status


@pytest.fixture
def api(web_server: str) -> Api:
    return Api(web_server)


def sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your projects").wait_for()


def wait_for(condition: Any, timeout_s: float = 60.0, step_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step_s)
    return value


__all__ = ["DATA_DIRS", "PASSWORD", "Api", "sign_in", "wait_for"]
