"""Liveness, readiness (the database answers) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from reelforge.api.deps import PlatformDep
from reelforge.api.errors import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer"}})
def readyz(platform: PlatformDep) -> Response:
    try:
        with platform.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes in the body
        return problem(503, "not-ready", "Not ready", f"database: {type(exc).__name__}")
    return Response('{"status":"ready"}', media_type="application/json")


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
