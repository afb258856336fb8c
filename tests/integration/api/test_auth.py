"""Sign-up, sign-in, refresh rotation with reuse detection, timeouts, logout, API keys."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from reelforge.api.deps import now
from reelforge.db.models import utcnow

from .conftest import PASSWORD, ClientFactory, sign_up

EMAIL = "Ann.Lee@Example.ORG"


def login(client: TestClient, email: str = EMAIL, **extra: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD} | extra
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def register(client: TestClient, email: str = EMAIL) -> None:
    created = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text


def test_register_normalises_the_email_and_refuses_a_duplicate(client: TestClient) -> None:
    register(client)
    assert (
        client.post(
            "/api/v1/auth/register", json={"email": "ann.lee@example.org", "password": PASSWORD}
        ).status_code
        == 409
    )
    me = client.get("/api/v1/users/me", headers=bearer(login(client, "ANN.LEE@example.org")))
    assert me.json()["email"] == "ann.lee@example.org" and me.json()["plan"] == "free"


def test_weak_password_and_bad_email_are_422_problems(client: TestClient) -> None:
    weak = client.post(
        "/api/v1/auth/register", json={"email": "a@b.org", "password": "password123"}
    )
    assert weak.status_code == 422
    assert weak.headers["content-type"] == "application/problem+json"
    assert weak.json()["type"] == "urn:reelforge:problem:invalid-input"
    bad = client.post("/api/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD})
    assert bad.status_code == 422 and "email" in bad.json()["detail"]


def test_wrong_password_is_401_and_audited(client: TestClient) -> None:
    register(client)
    wrong = client.post("/api/v1/auth/login", json={"email": EMAIL, "password": "nope" * 3})
    unknown = client.post("/api/v1/auth/login", json={"email": "x@y.org", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]  # no hint the account exists
    admin = sign_up(client, "root@example.org")
    platform = client.app.state.platform  # type: ignore[attr-defined]
    with platform.writer_sessions.begin() as session:
        from reelforge.db.crud import users

        user = users.get_by_email(session, "root@example.org")
        assert user is not None
        user.is_admin = True
    actions = [e["action"] for e in client.get("/api/v1/admin/audit", headers=admin).json()]
    assert actions.count("login.failed") == 2 and "login" in actions and "register" in actions


def test_refresh_rotates_and_reuse_revokes_the_whole_session(client: TestClient) -> None:
    register(client)
    first = login(client)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["session_id"] == first["session_id"]
    assert client.get("/api/v1/users/me", headers=bearer(rotated)).status_code == 200

    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and "already used" in reused.json()["detail"]
    # The thief's replay ended the session: the legitimate newer tokens die with it.
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
        ).status_code
        == 401
    )
    assert client.get("/api/v1/users/me", headers=bearer(rotated)).status_code == 401


def test_browser_login_uses_an_httponly_strict_cookie(client: TestClient) -> None:
    register(client)
    response = client.post(
        "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "client": "browser"}
    )
    assert response.json()["refresh_token"] is None
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    refreshed = client.post("/api/v1/auth/refresh")  # the cookie jar sends it
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] is None


def test_logout_revokes_the_access_and_refresh_tokens(client: TestClient) -> None:
    register(client)
    tokens = login(client)
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens)).status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(tokens)).status_code == 401
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


def test_the_project_listing_refuses_an_ended_session_at_once(client: TestClient) -> None:
    """The listing authenticates on its own path (`signed_in_read`): logout and a revoked
    session stop it on the very next request, as they stop every other route."""
    register(client)
    laptop, phone, tablet = login(client), login(client), login(client)
    assert client.get("/api/v1/projects", headers=bearer(laptop)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(laptop)).status_code == 204
    assert client.get("/api/v1/projects", headers=bearer(laptop)).status_code == 401
    assert client.get("/api/v1/projects", headers=bearer(phone)).status_code == 200
    ended = client.delete(f"/api/v1/auth/sessions/{phone['session_id']}", headers=bearer(tablet))
    assert ended.status_code == 204
    assert client.get("/api/v1/projects", headers=bearer(phone)).status_code == 401
    assert client.get("/api/v1/projects", headers=bearer(tablet)).status_code == 200


def test_idle_and_absolute_session_timeouts(make_client: ClientFactory) -> None:
    client = make_client(auth={"idle_timeout_s": 600, "absolute_timeout_s": 3600})
    register(client)
    app = client.app
    idle = login(client)
    app.dependency_overrides[now] = lambda: utcnow() + timedelta(seconds=601)  # type: ignore[attr-defined]
    timed_out = client.post("/api/v1/auth/refresh", json={"refresh_token": idle["refresh_token"]})
    assert timed_out.status_code == 401 and "inactivity" in timed_out.json()["detail"]

    app.dependency_overrides.clear()  # type: ignore[attr-defined]
    active = login(client)
    token = active["refresh_token"]
    for minutes in (9, 18, 27, 36, 45, 54):  # refreshed often, but an hour is the cap
        app.dependency_overrides[now] = lambda m=minutes: utcnow() + timedelta(minutes=m)  # type: ignore[attr-defined, misc]
        response = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 200, minutes
        token = response.json()["refresh_token"]
    app.dependency_overrides[now] = lambda: utcnow() + timedelta(minutes=61)  # type: ignore[attr-defined]
    expired = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_sessions_can_be_listed_and_revoked(client: TestClient) -> None:
    register(client)
    laptop, phone = login(client), login(client)
    listed = client.get("/api/v1/auth/sessions", headers=bearer(laptop)).json()
    assert {s["id"] for s in listed} == {laptop["session_id"], phone["session_id"]}
    assert [s["current"] for s in listed if s["id"] == laptop["session_id"]] == [True]
    gone = client.delete(f"/api/v1/auth/sessions/{phone['session_id']}", headers=bearer(laptop))
    assert gone.status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(phone)).status_code == 401
    assert client.get("/api/v1/users/me", headers=bearer(laptop)).status_code == 200


def test_api_keys_authenticate_until_revoked(client: TestClient) -> None:
    headers = sign_up(client)
    created = client.post("/api/v1/auth/api-keys", json={"name": "ci"}, headers=headers)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("rfk_") and key.startswith(created.json()["lookup_prefix"])
    listed = client.get("/api/v1/auth/api-keys", headers=headers).json()
    assert "key" not in listed[0] and listed[0]["name"] == "ci"
    as_key = {"Authorization": f"Bearer {key}"}
    assert listed[0]["last_used_at"] is None
    assert client.get("/api/v1/projects", headers=as_key).status_code == 200
    used = client.get("/api/v1/auth/api-keys", headers=headers).json()
    assert used[0]["last_used_at"] is not None  # the listing stored the key's use
    assert client.post("/api/v1/auth/logout", headers=as_key).status_code == 422  # not a session
    assert (
        client.delete(f"/api/v1/auth/api-keys/{listed[0]['id']}", headers=headers).status_code
        == 204
    )
    assert client.get("/api/v1/projects", headers=as_key).status_code == 401
    assert (
        client.get("/api/v1/projects", headers={"Authorization": "Bearer rfk_forged"}).status_code
        == 401
    )


def test_missing_and_garbage_tokens_are_401_with_www_authenticate(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}):
        response = client.get("/api/v1/projects", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json()["type"] == "urn:reelforge:problem:unauthorized"


def test_sign_in_normalises_the_email_as_sign_up_does(client: TestClient) -> None:
    composed = "Zo\u00eb.Lee@Example.org"  # ë as one code point (NFC)
    decomposed = "zoe\u0308.lee@example.ORG"  # e + combining diaeresis (NFD), other case
    register(client, decomposed)
    assert login(client, composed)["access_token"]
    assert login(client, decomposed)["access_token"]
    not_an_email = client.post(
        "/api/v1/auth/login", json={"email": "no at sign", "password": PASSWORD}
    )
    assert not_an_email.status_code == 401
    assert not_an_email.json()["type"] == "urn:reelforge:problem:unauthorized"


def test_responses_with_credentials_are_never_cached(client: TestClient) -> None:
    register(client)
    for body in ({}, {"client": "browser"}):
        answer = client.post(
            "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD} | body
        )
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    tokens = login(client)
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.headers["cache-control"] == "no-store"
    key = client.post("/api/v1/auth/api-keys", json={"name": "ci"}, headers=bearer(tokens))
    assert key.status_code == 201 and key.headers["cache-control"] == "no-store"
