"""Hostile input on SQLite and PostgreSQL: NUL bytes, control and bidi characters, lone
surrogates, deep JSON, huge strings and forged token claims are refused as 4xx problems,
never a 500, and nothing of them is stored."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from reelforge.api.input_guard import MAX_JSON_DEPTH
from reelforge.security.crypto import derive_key
from reelforge.security.tokens import ACCESS_TOKEN_PURPOSE

from .conftest import PASSWORD, new_project, sign_up

BAD_TEXT = {
    "nul": "a\x00b",
    "esc": "red \x1b[31m text",
    "bidi-override": "invoice\u202egpj.exe",
    "del": "a\x7fb",
    "c1": "a\x85b",
    "lone-surrogate": "a\ud800b",
}
PROBLEM = "application/problem+json"


def raw_json(value: Any) -> bytes:
    """JSON with every non-ASCII character escaped, as a client may send a lone surrogate."""
    return json.dumps(value, ensure_ascii=True).encode()


def post_json(client: TestClient, method: str, url: str, body: Any, **kw: Any) -> Any:
    headers = {"Content-Type": "application/json"} | kw.pop("headers", {})
    return client.request(method, url, content=raw_json(body), headers=headers, **kw)


def assert_refused(response: Any, field: str | None = None) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:reelforge:problem:validation"
    if field is not None:
        assert problem["errors"][0]["field"] == field, problem


@pytest.mark.parametrize("kind", BAD_TEXT)
def test_anonymous_login_and_register_refuse_control_characters(
    client: TestClient, kind: str
) -> None:
    bad = BAD_TEXT[kind]
    login = post_json(client, "POST", "/api/v1/auth/login", {"email": f"x{bad}@ex.org",
                      "password": PASSWORD})  # fmt: skip
    assert_refused(login, "email")
    register = post_json(client, "POST", "/api/v1/auth/register", {
        "email": "nul@example.org", "password": PASSWORD, "name": f"Ann {bad}"})  # fmt: skip
    assert_refused(register, "name")
    refresh = post_json(client, "POST", "/api/v1/auth/refresh", {"refresh_token": f"rft_{bad}"})
    assert_refused(refresh, "refresh_token")


@pytest.mark.parametrize("kind", BAD_TEXT)
def test_signed_in_writes_refuse_control_characters_anywhere_in_the_body(
    client: TestClient, kind: str
) -> None:
    bad = BAD_TEXT[kind]
    headers = sign_up(client)
    project = new_project(client, headers)
    url = f"/api/v1/projects/{project['id']}"
    cases: list[tuple[str, str, Any, str]] = [
        ("PATCH", "/api/v1/users/me", {"name": bad}, "name"),
        ("POST", "/api/v1/projects", {"name": bad}, "name"),
        ("PATCH", url, {"prompt": f"line one\n{bad}"}, "prompt"),
        ("PATCH", url, {"settings": {"voice": bad}}, "settings.voice"),
        ("PATCH", url, {"settings": {bad: 1}}, "settings"),
        ("PUT", f"{url}/storyboard", {"scenes": [{"narration": bad}]}, "scenes.0.narration"),
        ("PUT", "/api/v1/users/me/secrets/openai", {"value": bad}, "value"),
        ("POST", "/api/v1/auth/api-keys", {"name": bad}, "name"),
    ]
    for method, path, body, field in cases:
        assert_refused(post_json(client, method, path, body, headers=headers), field)
    stored = client.get(url, headers=headers).json()
    assert stored["name"] == project["name"] and stored["prompt"] == project["prompt"]
    assert client.get("/api/v1/users/me/secrets", headers=headers).json() == []


def test_tabs_and_newlines_in_text_are_kept(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers, prompt="First line.\n\tSecond line.\r\n")
    assert project["prompt"] == "First line.\n\tSecond line.\r\n"


@pytest.mark.parametrize("where", ["query", "header"])
def test_control_characters_in_query_or_headers_are_400(client: TestClient, where: str) -> None:
    headers = sign_up(client)
    if where == "query":
        for fine in ("caf%C3%A9", "%E2%82%AC", "tab%09ok"):
            assert client.get(f"/api/v1/projects?q={fine}", headers=headers).status_code == 200
        response = client.get("/api/v1/projects?q=a%00b", headers=headers)
    else:
        response = client.post(
            f"/api/v1/projects/{new_project(client, headers)['id']}/renders",
            headers=headers | {"Idempotency-Key": "key\x1bx"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:reelforge:problem:bad-request"


def nested(depth: int) -> bytes:
    """`{"settings": {"a": {"a": ...}}}`, `depth` objects deep in all."""
    return b'{"settings":' + b'{"a":' * (depth - 2) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 300, 5000])
def test_deeply_nested_json_is_refused(client: TestClient, depth: int) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    response = client.patch(f"/api/v1/projects/{project['id']}", content=nested(depth),
                            headers=headers | {"Content-Type": "application/json"})  # fmt: skip
    assert_refused(response, "body")
    assert f"nested deeper than {MAX_JSON_DEPTH}" in response.json()["detail"]
    login = client.post("/api/v1/auth/login", content=b"[" * 100_000,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert_refused(login, "body")


def test_huge_strings_are_refused(client: TestClient) -> None:
    headers = sign_up(client)
    huge = "x" * 900_000
    for method, path, body in [
        ("POST", "/api/v1/auth/login", {"email": huge, "password": PASSWORD}),
        ("POST", "/api/v1/projects", {"name": huge}),
        ("PATCH", "/api/v1/users/me", {"name": huge}),
    ]:
        response = post_json(client, method, path, body, headers=headers)
        assert response.status_code == 422, (path, response.status_code)
        assert response.headers["content-type"] == PROBLEM


def forged_token(client: TestClient, **claims: Any) -> dict[str, str]:
    """A token signed with the server's real key, with the claims an attacker chose."""
    platform = client.app.state.platform  # type: ignore[attr-defined]
    key = derive_key(platform.secret_key, purpose=ACCESS_TOKEN_PURPOSE, length=64)
    base = {"iss": "reelforge", "aud": "reelforge-api", "sub": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()), "jti": "j", "scope": "user", "iat": 0,
            "exp": int(time.time()) + 600}  # fmt: skip
    return {"Authorization": "Bearer " + jwt.encode(base | claims, key, algorithm="HS256")}


@pytest.mark.parametrize("sid", ["not-a-uuid", "a\x00b", "", "1" * 5000])
def test_signed_token_with_a_malformed_session_id_is_401(client: TestClient, sid: str) -> None:
    response = client.get("/api/v1/users/me", headers=forged_token(client, sid=sid))
    assert response.status_code == 401, response.text
    assert response.json()["type"] == "urn:reelforge:problem:unauthorized"


def test_signed_token_expiring_after_year_9999_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/users/me", headers=forged_token(client, exp=2**40))
    assert response.status_code == 401, response.text


def test_credentials_with_control_characters_are_refused(client: TestClient) -> None:
    for token in ("rfk_abc\x00def", "eyJ\x1b.x.y"):
        response = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "urn:reelforge:problem:bad-request"
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(f"/api/v1/ws?token={quote(token)}"),
        ):
            pass
        assert refused.value.code == 1008
    for token in ("rfk_\u00e9t\u00e9", "rfk_" + "\u202e" * 3):  # printable or not, not ASCII
        response = client.get("/api/v1/events", params={"token": token})
        assert response.status_code in (400, 401), response.text
