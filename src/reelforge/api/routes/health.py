"""Liveness, readiness (the database answers) and Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reelforge.api.deps import Now, PlatformDep, authenticate, bearer
from reelforge.api.errors import problem
from reelforge.api.monitor import database_problem
from reelforge.errors import Forbidden, Unauthorized

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer"}})
def readyz(platform: PlatformDep) -> Response:
    reason = database_problem(platform.engine)
    if reason is not None:
        return problem(503, "not-ready", "Not ready", reason)
    return Response('{"status":"ready"}', media_type="application/json")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
        401: {"description": "No or wrong credentials"},
        403: {"description": "Signed in, but not an administrator"},
    },
)
def metrics(
    request: Request,
    platform: PlatformDep,
    at: Now,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """For Prometheus: `Authorization: Bearer <REELFORGE_API__METRICS_TOKEN>`, or an
    administrator's access token or API key. Queue sizes and worker names are not for
    everyone on the API port."""
    if credentials is None:
        raise Unauthorized(
            "send `Authorization: Bearer <REELFORGE_API__METRICS_TOKEN>` or an "
            "administrator's credentials", stage="auth",
        )  # fmt: skip
    expected = platform.settings.api.metrics_token
    token_ok = expected is not None and hmac.compare_digest(
        credentials.credentials.encode(), expected.get_secret_value().encode()
    )
    if not token_ok and not authenticate(platform, credentials.credentials, at).user.is_admin:
        raise Forbidden("metrics are for administrators and the metrics token", stage="auth")
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
