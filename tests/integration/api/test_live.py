"""Live events: WebSocket order, replay after a reconnect (`after`), live delivery, SSE."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from .conftest import PASSWORD, ClientFactory, new_project, sign_up


def receive(ws: Any, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < count:
        message = json.loads(ws.receive_text())
        if message["type"] != "keepalive":
            got.append(message)
    return got


def test_reconnect_with_after_replays_exactly_what_was_missed(client: TestClient) -> None:
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    project = new_project(client, headers)
    submit = f"/api/v1/projects/{project['id']}/renders"
    first = client.post(submit, headers=headers).json()
    client.post(submit, headers=headers)

    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        before = receive(ws, 2)
    assert [e["type"] for e in before] == ["queued", "queued"]
    last_seen = before[-1]["id"]

    # While disconnected: one render canceled, one more submitted.
    assert client.post(f"/api/v1/renders/{first['id']}/cancel", headers=headers).status_code == 202
    third = client.post(submit, headers=headers).json()

    with client.websocket_connect(f"/api/v1/ws?token={token}&after={last_seen}") as ws:
        missed = receive(ws, 2)
        assert [(e["type"], e["render_id"]) for e in missed] == [
            ("canceled", first["id"]), ("queued", third["id"]),
        ]  # fmt: skip
        assert all(e["id"] > last_seen for e in missed)
        # ...and then live: a new event arrives without reconnecting.
        client.post(f"/api/v1/renders/{third['id']}/cancel", headers=headers)
        [live] = receive(ws, 1)
        assert (live["type"], live["render_id"]) == ("canceled", third["id"])


def test_events_reach_a_client_on_another_api_replica(make_client: ClientFactory) -> None:
    """Two app instances on one database, as behind a load balancer: no sticky sessions."""
    replica_a, replica_b = make_client(), make_client()
    headers = sign_up(replica_a)
    token = headers["Authorization"].removeprefix("Bearer ")
    project = new_project(replica_b, headers)
    with replica_a.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        submitted = replica_b.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
        [event] = receive(ws, 1)
    assert (event["type"], event["render_id"]) == ("queued", submitted.json()["id"])


def test_events_are_private(client: TestClient) -> None:
    ann, bob = sign_up(client), sign_up(client)
    client.post(f"/api/v1/projects/{new_project(client, ann)['id']}/renders", headers=ann)
    bobs = client.post(f"/api/v1/projects/{new_project(client, bob)['id']}/renders", headers=bob)
    token = ann["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        client.post(f"/api/v1/renders/{bobs.json()['id']}/cancel", headers=bob)
        ann_project = new_project(client, ann)
        client.post(f"/api/v1/projects/{ann_project['id']}/renders", headers=ann)
        events = receive(ws, 2)
    assert [e["type"] for e in events] == ["queued", "queued"]
    assert bobs.json()["id"] not in {e["render_id"] for e in events}


def test_a_bad_token_closes_the_websocket_with_4401(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/api/v1/ws?token=nope") as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 4401 and "invalid" in closed.value.reason.lower()


def test_logout_ends_an_open_stream(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client.app.state.hub, "recheck_s", 0.05)
    headers = sign_up(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    project = new_project(client, headers)
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
        assert receive(ws, 1)[0]["type"] == "queued"
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)  # 401 now
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws, 5)
    assert closed.value.code == 4401


def test_a_revoked_api_key_ends_its_open_stream(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client.app.state.hub, "recheck_s", 0.05)
    headers = sign_up(client)
    created = client.post("/api/v1/auth/api-keys", json={"name": "bot"}, headers=headers).json()
    with client.websocket_connect(f"/api/v1/ws?token={created['key']}") as ws:
        project = new_project(client, headers)
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
        assert receive(ws, 1)[0]["type"] == "queued"
        deleted = client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=headers)
        assert deleted.status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws, 5)
    assert closed.value.code == 4401


def test_logging_out_one_device_ends_only_its_streams(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub checks every open stream's session at once; the one that ended, and only
    its streams, are closed (two tabs of the signed-out laptop; the phone stays)."""
    monkeypatch.setattr(client.app.state.hub, "recheck_s", 0.05)
    laptop = sign_up(client)
    email = client.get("/api/v1/users/me", headers=laptop).json()["email"]
    phone_login = client.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
    ).json()
    phone = {"Authorization": f"Bearer {phone_login['access_token']}"}
    token = laptop["Authorization"].removeprefix("Bearer ")
    project = new_project(client, laptop)
    with (
        client.websocket_connect(f"/api/v1/ws?token={token}") as tab_1,
        client.websocket_connect(f"/api/v1/ws?token={token}") as tab_2,
        client.websocket_connect(
            f"/api/v1/ws?token={phone['Authorization'].removeprefix('Bearer ')}"
        ) as on_phone,
    ):
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=laptop)
        for ws in (tab_1, tab_2, on_phone):
            assert receive(ws, 1)[0]["type"] == "queued"
        assert client.post("/api/v1/auth/logout", headers=laptop).status_code == 204
        for ws in (tab_1, tab_2):
            with pytest.raises(WebSocketDisconnect) as closed:
                receive(ws, 5)
            assert closed.value.code == 4401
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=phone)
        assert receive(on_phone, 1)[0]["type"] == "queued"


def test_server_sent_events_resume_from_last_event_id(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    for _ in range(3):
        client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers)
    with client.stream("GET", "/api/v1/events", headers=headers | {"Last-Event-ID": "0"}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        ids: list[int] = []
        for line in stream.iter_lines():
            if line.startswith("id: "):
                ids.append(int(line.removeprefix("id: ")))
            if len(ids) == 3:
                break
    with client.stream(
        "GET", "/api/v1/events", headers=headers | {"Last-Event-ID": str(ids[0])}
    ) as stream:
        resumed: list[int] = []
        for line in stream.iter_lines():
            if line.startswith("id: "):
                resumed.append(int(line.removeprefix("id: ")))
            if len(resumed) == 2:
                break
    assert resumed == ids[1:]


def test_logout_ends_an_event_stream(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client.app.state.hub, "recheck_s", 0.05)
    headers = sign_up(client)
    with client.stream("GET", "/api/v1/events", headers=headers) as stream:
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
        assert list(stream.iter_lines()) is not None  # the server ends it: this returns
