"""One place turns every error into `application/problem+json` (RFC 9457).

Each problem has a stable `type` URN clients can switch on (listed in docs/api.md), a
`title`, the HTTP `status`, and a `detail` line written for the person using the app.
A server bug answers a generic 500 and is logged with its traceback, never shown.
The OpenAPI schema says so too: every operation documents its 4xx/5xx answers as
problems (`document_problems`), replacing FastAPI's default `application/json` 422.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sql
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelforge import errors
from reelforge.logs import get_logger

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:reelforge:problem:"
log = get_logger("reelforge.api")

_BY_CLASS: list[tuple[type[errors.ReelforgeError], int, str, str]] = [
    (errors.UnsupportedMedia, 415, "unsupported-media-type", "Unsupported media type"),
    (errors.InvalidInput, 422, "invalid-input", "Invalid input"),
    (errors.NotFound, 404, "not-found", "Not found"),
    (errors.Unauthorized, 401, "unauthorized", "Not signed in"),
    (errors.Forbidden, 403, "forbidden", "Not allowed"),
    (errors.Conflict, 409, "conflict", "Conflict"),
    (errors.PreconditionFailed, 412, "precondition-failed", "Changed elsewhere"),
    (errors.QuotaExceeded, 413, "storage-quota", "Storage quota reached"),
    (errors.FileTooLarge, 413, "file-too-large", "File too large for the plan"),
    (errors.LimitExceeded, 402, "plan-limit", "Plan limit reached"),
    (errors.RateLimited, 429, "rate-limited", "Too many requests"),
    (errors.StorageError, 503, "storage-unavailable", "Storage unavailable"),
]
_BY_STATUS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Not signed in"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    416: ("range-not-satisfiable", "Range not satisfiable"),
}


class Problem(BaseModel):
    """An error answer (RFC 9457); `type` is stable, `detail` is for people."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str


class FieldProblem(BaseModel):
    field: str
    message: str


class ValidationProblem(Problem):
    """A 422: the request does not match this schema (`validation`, with one entry per
    bad field in `errors`), or its values are refused (`invalid-input`)."""

    errors: list[FieldProblem] = []


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": TYPE_PREFIX + slug, "title": title, "status": status, "detail": detail}
    return JSONResponse(body | extra, status, headers=headers, media_type=PROBLEM_JSON)


def _reelforge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ReelforgeError)
    for cls, status, slug, title in _BY_CLASS:
        if isinstance(exc, cls):
            headers: dict[str, str] = {}
            if isinstance(exc, errors.RateLimited):
                headers["Retry-After"] = str(exc.retry_after_s)
            if isinstance(exc, errors.Unauthorized):
                headers["WWW-Authenticate"] = "Bearer"
            extra: dict[str, Any] = {}
            if isinstance(exc, errors.InvalidInput) and exc.field:  # shown beside the field
                extra["errors"] = [{"field": exc.field, "message": exc.message}]
            if isinstance(exc, errors.InvalidRows):
                extra["rows"] = [{"line": line, "reason": why} for line, why in exc.rows]
            return problem(status, slug, title, exc.message, headers=headers, **extra)
    return _internal(request, exc)


def _field(error: Mapping[str, Any]) -> str:
    """`settings.resolution`, `query.limit`... (a JSON syntax error is the whole body)."""
    if error.get("type") == "json_invalid":
        return "body"
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
    return ".".join(parts) or "body"


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"field": _field(err), "message": str(err.get("msg", ""))} for err in exc.errors()]
    first = problems[0] if problems else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    return problem(422, "validation", "Invalid request", detail, errors=problems)


def status_problem(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The problem for a plain HTTP status (404 route, 405, 413...)."""
    slug, title = _BY_STATUS.get(status, ("http-error", "HTTP error"))
    return problem(status, slug, title, detail, headers=headers)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return status_problem(exc.status_code, str(exc.detail), headers=exc.headers)


DATABASE_DOWN = (sql.OperationalError, sql.InterfaceError, sql.TimeoutError)
"""The database unreachable, restarting or out of connections: not a bug, and it passes."""
DATABASE_RETRY_AFTER_S = 5


def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", path=request.url.path, error=str(exc).splitlines()[0])
    return problem(
        503, "database-unavailable", "Service unavailable",
        "the database is not answering; try again in a few seconds",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )  # fmt: skip


def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return problem(500, "internal", "Internal error", "something went wrong on our side")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ReelforgeError, _reelforge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for database_error in DATABASE_DOWN:
        app.add_exception_handler(database_error, _database_down)
    app.add_exception_handler(Exception, _internal)
    app.openapi = document_problems(app.openapi)  # type: ignore[method-assign]


def _problem_content(model: type[Problem]) -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


def _document(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's, never sent
        components.pop(name, None)
    for model in (Problem, ValidationProblem):
        shown = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(shown.pop("$defs", {}))
        components[model.__name__] = shown
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = _problem_content(Problem)
            if "422" in responses:
                responses["422"] = {
                    "description": "Invalid request",
                    "content": _problem_content(ValidationProblem),
                }
            # Any operation may be refused (auth, rate limits, body size) or fail.
            responses.setdefault("4XX", {"description": "Refused: see the problem's `type`"})
            responses.setdefault("5XX", {"description": "Failed on our side, or a dependency"})
            for status in ("4XX", "5XX"):
                responses[status]["content"] = _problem_content(Problem)


def document_problems(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Wraps FastAPI's `app.openapi` so the schema documents the problems we send."""
    documented: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not documented:
            schema = build()  # FastAPI caches it: the same dict on every call
            _document(schema)
            documented.update(schema=schema)
        result: dict[str, Any] = documented["schema"]
        return result

    return openapi
