"""Live events on PostgreSQL: the hub is woken by LISTEN/NOTIFY, not by its fast poll.

Each test slows the hub's fallback poll (and its session recheck, which also bounds its
waits) to 30 s, so an event that arrives within a second came through a notification.
Events are written through a second engine (another pool, as another process would), by
the job manager's statements (Core, and the PostgreSQL claim's and finish's CTEs) and by a
plain ORM insert (as sharing does).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from reelforge.api.live import EventHub
from reelforge.db.crud.events import NOTIFY_CHANNEL
from reelforge.db.models import Event, User
from reelforge.db.session import make_engine
from reelforge.jobs.manager import JobManager

from .conftest import ClientFactory, sign_up

SLOW_S = 30.0
FAST_S = 1.0
"""Well under `SLOW_S`: only a notification can have woken the hub this fast."""
LISTENING = f"LISTEN {NOTIFY_CHANNEL}"


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only (SQLite polls, as `test_live.py` checks)."""
    return pg_url


@pytest.fixture
def other_engine(pg_url: str) -> Iterator[Engine]:
    """Another pool on the same database: what a worker process or host writes through."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def slow_hub(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> EventHub:
    hub: EventHub = client.app.state.hub  # type: ignore[attr-defined]
    monkeypatch.setattr(hub, "fallback_s", SLOW_S)
    monkeypatch.setattr(hub, "recheck_s", SLOW_S)
    listening(hub)
    return hub


def listening(hub: EventHub, timeout_s: float = 10.0) -> None:
    assert hub.listener is not None
    deadline = time.monotonic() + timeout_s
    while not hub.listener.connected:
        assert time.monotonic() < deadline, "the hub never started listening"
        time.sleep(0.02)


def listen_pids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        pids = conn.scalars(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND query = :listen"
            ),
            {"listen": LISTENING},
        )
        return set(pids)


def next_event(ws: Any) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.receive_text())
        if message["type"] != "keepalive":
            return message


def timed(ws: Any) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    event = next_event(ws)
    return event, time.monotonic() - started


def note(engine: Engine, user_id: uuid.UUID, label: str) -> None:
    """A plain ORM insert of an event, as `crud.sharing` writes them."""
    with Session(engine) as session, session.begin():
        session.add(Event(user_id=user_id, type="note", data={"label": label}))


def user_id(client: TestClient, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(client.get("/api/v1/users/me", headers=headers).json()["id"])


def test_events_written_elsewhere_arrive_by_notification_once_each(
    make_client: ClientFactory, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()
    slow_hub(client, monkeypatch)
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    owner_id = user_id(client, headers)
    manager = JobManager(other_engine)
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        time.sleep(0.3)  # the hub anchors for its first subscriber; then it only listens
        received: list[tuple[dict[str, Any], float]] = []

        with Session(other_engine) as session, session.begin():
            owner = session.get(User, owner_id)
            assert owner is not None
            job = manager.enqueue(session, owner, kind="noop")
            job_id = job.id
        received.append(timed(ws))  # queued: a Core insert with the queue's own NOTIFY
        [claimed] = manager.claim("worker-elsewhere")
        received.append(timed(ws))  # started: inside PostgreSQL's claim statement
        manager.succeed_and_claim(claimed.id, "worker-elsewhere", {"ok": True})
        received.append(timed(ws))  # succeeded: inside PostgreSQL's finish statement
        note(other_engine, owner_id, "last")
        received.append(timed(ws))  # an ORM insert

    kinds = [(event["type"], event["render_id"]) for event, _ in received]
    assert kinds == [
        ("queued", str(job_id)), ("started", str(job_id)), ("succeeded", str(job_id)),
        ("note", None),
    ]  # fmt: skip
    assert all(elapsed_s < FAST_S for _, elapsed_s in received), received
    # Once each: a duplicate would have come before the next event.
    ids = [event["id"] for event, _ in received]
    assert ids == sorted(set(ids))


def test_the_hub_listens_again_after_its_connection_is_killed(
    make_client: ClientFactory, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()
    hub = slow_hub(client, monkeypatch)
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    owner_id = user_id(client, headers)
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        time.sleep(0.3)
        note(other_engine, owner_id, "before")
        before, elapsed_s = timed(ws)
        assert before["data"]["label"] == "before" and elapsed_s < FAST_S

        [pid] = listen_pids(other_engine)
        with other_engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # Written while the listener may be down: the fast poll (or the query after it
        # listens again) delivers it, not the 30 s fallback.
        note(other_engine, owner_id, "while down")
        during, elapsed_s = timed(ws)
        assert during["data"]["label"] == "while down" and elapsed_s < FAST_S * 5

        deadline = time.monotonic() + 10
        while not (listen_pids(other_engine) - {pid}):
            assert time.monotonic() < deadline, "the hub never listened again"
            time.sleep(0.05)
        listening(hub)
        note(other_engine, owner_id, "after")
        after, elapsed_s = timed(ws)
        assert after["data"]["label"] == "after" and elapsed_s < FAST_S

    ids = [event["id"] for event in (before, during, after)]
    assert ids == sorted(set(ids))  # each once


def test_a_statement_that_appends_no_event_notifies_no_one(pg_url: str) -> None:
    """The trigger fires per statement: a claim that started nothing (its CTE inserted no
    event) must not wake every API process; two events in a transaction wake them once."""
    writer = make_engine(pg_url)
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as listener:
        listener.execute(LISTENING)
        with writer.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO events (user_id, type, data, created_at)"
                    " SELECT id, 'x', '{}', now() FROM users WHERE false"
                )
            )
        assert list(listener.notifies(timeout=0.3)) == []
        with Session(writer) as session, session.begin():
            user = User(email=f"n-{uuid.uuid4().hex[:8]}@example.org")
            session.add(user)
            session.flush()
            for label in ("one", "two"):
                session.add(Event(user_id=user.id, type="note", data={"label": label}))
                session.flush()
        got = list(listener.notifies(timeout=0.5))
    writer.dispose()
    assert [(n.channel, n.payload) for n in got] == [(NOTIFY_CHANNEL, "")]
