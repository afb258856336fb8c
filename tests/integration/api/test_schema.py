"""Property-based tests of the whole HTTP API against its own OpenAPI schema (schemathesis).

Every operation gets generated requests, valid and invalid, sent in-process to the ASGI
app as a signed-in administrator (so the admin routes are exercised too). A request may
be refused (401, 404, 409, 422...), but the server must never answer 5xx, and every
answer must match the status codes, content types and bodies the schema documents.

On SQLite and on PostgreSQL (with Redis), where text types refuse NUL bytes and lone
surrogates: the generated strings hold control characters, and must still never be a 5xx.
test_hostile_input.py adds the cases generation rarely reaches (deep nesting, huge
strings, forged token claims).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reelforge.api.app import create_app
from reelforge.db.crud import users
from reelforge.db.migrate import upgrade
from reelforge.platform.services import Platform
from reelforge.security.ratelimit import RateLimiter
from tests.integration.conftest import emptied_engine

from .conftest import new_project, settings_for, sign_up

MAX_EXAMPLES = 20
"""Per operation and phase; the whole API takes about 15 s on 2 cores."""
UNLIMITED = {
    "rate_auth": "100000/minute",
    "rate_login_account": "100000/minute",
    "rate_submit": "100000/minute",
    "rate_api": "100000/minute",
}
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240601,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "with-security-parameters": False,  # we send a real token ourselves
        },
        "phases": {"stateful": {"enabled": False}},
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STREAMING = r"^/api/v1/(ws|events)$"
"""The WebSocket isn't in the OpenAPI schema at all, and the SSE stream never ends (the
test client would wait for its keepalive forever); test_live.py covers both."""


@dataclass(frozen=True, slots=True)
class Api:
    """The app under test and the credentials sent with every generated request."""

    app: FastAPI
    bearer: dict[str, str]
    api_key: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp / 'reelforge.db'}"
        upgrade(db_url)
    else:  # the session's database, emptied: NUL bytes and surrogates break only here
        db_url = request.getfixturevalue("pg_url")
        for _ in emptied_engine(db_url):
            pass
    platform = Platform(settings_for(db_url, tmp, api=UNLIMITED))
    if platform.settings.redis_url:  # shared with other runs: counters of our own
        platform.__dict__["limiter"] = RateLimiter(
            platform.settings.redis_url, namespace=f"test-{uuid.uuid4()}"
        )
    app = create_app(platform)
    setup = TestClient(app, base_url="https://testserver")  # no lifespan: schemathesis runs it
    bearer = sign_up(setup, "admin@example.org")
    with platform.writer_sessions.begin() as session:
        admin = users.get_by_email(session, "admin@example.org")
        assert admin is not None
        admin.is_admin = True
    key = setup.post("/api/v1/auth/api-keys", json={"name": "schemathesis"}, headers=bearer)
    assert key.status_code == 201, key.text
    new_project(setup, bearer)  # something for the listings to return
    yield Api(app, bearer, {"Authorization": f"Bearer {key.json()['key']}"})
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    return schemathesis.openapi.from_asgi("/api/openapi.json", api.app, config=CONFIG)


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32 reads `node._nodeid`, which pytest 9.2 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=STREAMING)


@schema.parametrize()
def test_api_matches_its_schema(case: schemathesis.Case, api: Api) -> None:
    # Logging out with the shared access token would end its session for every later
    # case; an API key is a Bearer credential too, and has no session to end.
    headers = api.api_key if case.path == "/api/v1/auth/logout" else api.bearer
    case.call_and_validate(headers=headers, checks=CHECKS)
