"""Limits that hold under races, on PostgreSQL: the app served by uvicorn in a thread, hit by
real concurrent HTTP requests (each a transaction of its own on its own connection)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select

from reelforge.api.app import create_app
from reelforge.db.models import RenderJob, User, UserSecret
from reelforge.platform.services import Platform

from .conftest import PASSWORD, settings_for

PROBLEM = "urn:reelforge:problem:"


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only: SQLite serialises writers, the races are PostgreSQL's."""
    return pg_url


@pytest.fixture
def served(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    """The API on a free port, until the test ends; `engine` empties the tables first."""
    platform = Platform(settings_for(db_url, tmp_path))
    platform.limiter.reset()
    app = create_app(platform, workers=0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/api/v1", platform
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def all_at_once(n: int, call: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """`n` requests released together from `n` threads, each with its own connection."""
    barrier = threading.Barrier(n)

    def one(_: int) -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            return call(http)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def kinds(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter(
        (r.status_code, r.json().get("type", "") if r.status_code >= 400 else "") for r in responses
    )


def signed_in(base: str) -> dict[str, str]:
    email = f"race-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": email, "password": PASSWORD}
    assert httpx.post(f"{base}/auth/register", json=body).status_code == 201
    token = httpx.post(f"{base}/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_50_concurrent_submits_accept_exactly_the_plans_queue(
    served: tuple[str, Platform],
) -> None:
    base, platform = served
    headers = signed_in(base)
    body: dict[str, Any] = {"name": "Race", "prompt": "Tides rise twice a day."}
    project = httpx.post(f"{base}/projects", json=body, headers=headers).json()
    url = f"{base}/projects/{project['id']}/renders"

    answers = all_at_once(50, lambda http: http.post(url, headers=headers))

    seen = kinds(answers)
    assert seen == {(202, ""): 5, (429, PROBLEM + "rate-limited"): 45}, seen
    with platform.sessions() as session:
        assert len(session.scalars(select(RenderJob)).all()) == 5


def test_10_concurrent_sign_ups_of_one_email_make_one_account(
    served: tuple[str, Platform],
) -> None:
    base, platform = served
    body = {"email": "twin@example.org", "password": PASSWORD}

    answers = all_at_once(10, lambda http: http.post(f"{base}/auth/register", json=body))

    seen = kinds(answers)
    assert seen == {(201, ""): 1, (409, PROBLEM + "conflict"): 9}, seen
    with platform.sessions() as session:
        assert session.scalars(select(User.email)).all() == ["twin@example.org"]


def test_concurrent_writes_of_one_secret_keep_the_last(served: tuple[str, Platform]) -> None:
    base, platform = served
    headers = signed_in(base)
    url = f"{base}/users/me/secrets/openai"
    values = iter(range(10))
    lock = threading.Lock()

    def put(http: httpx.Client) -> httpx.Response:
        with lock:
            value = f"sk-{next(values)}"
        return http.put(url, json={"value": value}, headers=headers)

    answers = all_at_once(10, put)

    assert kinds(answers) == {(200, ""): 10}
    with platform.sessions() as session:
        rows = session.scalars(select(UserSecret)).all()
        assert len(rows) == 1
        stored = platform.secret_box.decrypt(
            rows[0].ciphertext, context=f"{rows[0].user_id}:openai"
        )
    assert stored in {f"sk-{i}" for i in range(10)}


def test_concurrent_writes_cannot_overfill_the_storage_quota(
    served: tuple[str, Platform], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from reelforge.db.models import Project
    from reelforge.model.plans import PLAN_LIMITS, Plan

    free = replace(PLAN_LIMITS[Plan.FREE], storage_bytes=30_000)
    monkeypatch.setitem(PLAN_LIMITS, Plan.FREE, free)
    base, platform = served
    headers = signed_in(base)
    body = {"name": "Big", "prompt": "Tides rise. " * 1000}  # 12 KB: two fit

    answers = all_at_once(
        10, lambda http: http.post(f"{base}/projects", json=body, headers=headers)
    )

    assert kinds(answers) == {(201, ""): 2, (413, PROBLEM + "storage-quota"): 8}
    with platform.sessions() as session:
        assert len(session.scalars(select(Project.id)).all()) == 2


def test_two_concurrent_storyboard_puts_with_one_etag_make_exactly_one_412(
    served: tuple[str, Platform],
) -> None:
    """Both read the same version; the conditional UPDATE lets one write, the other 412s."""
    base, _ = served
    headers = signed_in(base)
    body: dict[str, Any] = {"name": "Race", "prompt": "Tides rise twice a day."}
    project = httpx.post(f"{base}/projects", json=body, headers=headers).json()
    url = f"{base}/projects/{project['id']}/storyboard"
    board = {"scenes": [{"narration": "Tides rise twice a day."}]}
    etag = httpx.put(url, json=board, headers=headers).headers["ETag"]

    for _ in range(10):  # one round can miss the race; ten rarely all do
        sent = headers | {"If-Match": etag}

        def put(http: httpx.Client, sent: dict[str, str] = sent) -> httpx.Response:
            return http.put(url, json={"title": uuid.uuid4().hex[:8]} | board, headers=sent)

        answers = all_at_once(2, put)
        seen = kinds(answers)
        assert seen == {(200, ""): 1, (412, PROBLEM + "precondition-failed"): 1}, seen
        [won] = [a for a in answers if a.status_code == 200]
        assert httpx.get(url, headers=headers).json()["title"] == won.json()["title"]
        etag = won.headers["ETag"]
