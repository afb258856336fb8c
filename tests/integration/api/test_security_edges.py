"""Security edges of the API: who may read /metrics, WebSocket tickets instead of tokens
in URLs, and live streams that say when they fail instead of going quiet."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from starlette.websockets import WebSocketDisconnect
from structlog.testing import capture_logs

from reelforge.api import live as live_module
from reelforge.api.live import EventHub
from reelforge.db.crud import users

from .conftest import ClientFactory, new_project, sign_up

METRICS = "/api/v1/metrics"
METRICS_TOKEN = "scrape-" + "x" * 40


def make_admin(client: TestClient, headers: dict[str, str]) -> None:
    email = client.get("/api/v1/users/me", headers=headers).json()["email"]
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.writer_sessions.begin() as session:
        user = users.get_by_email(session, email)
        assert user is not None
        user.is_admin = True


def test_metrics_need_the_metrics_token_or_an_administrator(make_client: ClientFactory) -> None:
    client = make_client(api={"metrics_token": METRICS_TOKEN})
    anonymous = client.get(METRICS)
    assert anonymous.status_code == 401
    assert anonymous.json()["type"] == "urn:reelforge:problem:unauthorized"
    user = sign_up(client)
    assert client.get(METRICS, headers=user).status_code == 403
    assert client.get(METRICS, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    scraped = client.get(METRICS, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200 and "reelforge_queue_depth" in scraped.text
    make_admin(client, user)
    assert client.get(METRICS, headers=user).status_code == 200


def test_without_a_metrics_token_only_administrators_read_metrics(client: TestClient) -> None:
    assert client.get(METRICS).status_code == 401
    assert client.get(METRICS, headers={"Authorization": "Bearer "}).status_code == 401
    user = sign_up(client)
    assert client.get(METRICS, headers=user).status_code == 403


def ticket_for(client: TestClient, headers: dict[str, str]) -> str:
    answer = client.post("/api/v1/ws-ticket", headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["expires_in"] == 30
    ticket: str = answer.json()["ticket"]
    return ticket


def first_event(ws: Any) -> dict[str, Any]:
    while (message := ws.receive_json())["type"] == "keepalive":
        pass
    return message  # type: ignore[no-any-return]


def test_a_websocket_ticket_works_once_and_carries_no_token(client: TestClient) -> None:
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    project = new_project(client, headers)
    client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    ticket = ticket_for(client, headers)
    assert token not in ticket
    with client.websocket_connect(f"/api/v1/ws?ticket={ticket}") as ws:
        assert first_event(ws)["type"] == "queued"
    with (
        pytest.raises(WebSocketDisconnect) as reused,
        client.websocket_connect(f"/api/v1/ws?ticket={ticket}") as ws,
    ):
        ws.receive_text()
    assert reused.value.code == 4401 and "already used" in reused.value.reason
    with (
        pytest.raises(WebSocketDisconnect) as forged,
        client.websocket_connect(f"/api/v1/ws?ticket={ticket[:-3]}xyz") as ws,
    ):
        ws.receive_text()
    assert forged.value.code == 4401
    # The SSE stream takes tickets too, and anonymous callers get none.
    with client.stream("GET", f"/api/v1/events?ticket={ticket_for(client, headers)}") as stream:
        assert stream.status_code == 200
        assert any(line == "event: queued" for line in _lines_until(stream, "event: queued"))
    assert client.post("/api/v1/ws-ticket").status_code == 401


def _lines_until(stream: Any, wanted: str) -> list[str]:
    seen: list[str] = []
    for line in stream.iter_lines():
        seen.append(line)
        if line == wanted:
            break
    return seen


def failing_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away mid-read")

    monkeypatch.setattr("reelforge.api.routes.live.events.after", broken)


def test_a_failing_event_stream_tells_the_client_to_reconnect(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = sign_up(client)
    failing_reads(monkeypatch)
    with capture_logs() as logged, client.stream("GET", "/api/v1/events", headers=headers) as s:
        lines = list(s.iter_lines())  # returns: the server ends the stream
    assert "event: error" in lines and "retry: 2000" in lines
    assert any(e["event"].startswith("live stream failed") for e in logged)


def test_a_failing_websocket_closes_with_try_again(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    failing_reads(monkeypatch)
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/api/v1/ws?token={token}") as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 1013 and "reconnect" in closed.value.reason


def test_the_event_poller_survives_an_unexpected_error(monkeypatch: pytest.MonkeyPatch) -> None:
    user = uuid.uuid4()
    polls: list[str] = []

    def users_with_events_after(engine: object, last: int) -> tuple[set[uuid.UUID], int]:
        polls.append("poll")
        if len(polls) == 1:
            raise ValueError("a DBAPI error the poller did not expect")
        return {user}, last + 1

    monkeypatch.setattr(live_module.events, "latest_id", lambda engine: 0)
    monkeypatch.setattr(live_module.events, "users_with_events_after", users_with_events_after)
    monkeypatch.setattr(live_module, "POLL_ERROR_BACKOFF_S", 0.0)

    async def scenario() -> bool:
        hub = EventHub(create_engine("sqlite://"), sessions=None, timeouts=None, poll_s=0.001)  # type: ignore[arg-type]
        with hub.subscribe(user) as subscription:
            hub.start()
            assert await subscription.wait(10)  # the anchoring wake-up
            subscription.clear()
            while not polls:  # the failing poll has happened...
                await asyncio.sleep(0.001)
            woken = await subscription.wait(10)  # ...and polling goes on
        await hub.stop()
        return woken

    with capture_logs() as logged:
        assert asyncio.run(scenario())
    assert any(e["event"].startswith("event poll failed unexpectedly") for e in logged)
