"""Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on every request):
request body size limit and security headers."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.api.errors import status_problem

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/api/docs", "/api/redoc")
DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"frame-ancestors 'none'; base-uri 'none'",
)
"""Swagger UI: its scripts and styles, all from this server (it sets inline styles)."""
APP_CSP = (
    b"content-security-policy",
    b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    b"object-src 'none'",
)
"""The web app (every path outside /api): only its own scripts, styles and media."""


def csp_for(path: str) -> tuple[bytes, bytes]:
    if path.startswith(DOCS_PATHS):
        return DOCS_CSP
    if path.startswith("/api/"):
        return API_CSP
    return APP_CSP


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI, reading the body, passes it on as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class LimitsAndHeaders:
    """Refuses bodies over `max_body_bytes` (by Content-Length, or while streaming when the
    client sends chunks) with a 413, and adds security headers to every response.

    `uploads`: a POST to one of these paths may send up to its own limit instead (the
    route streams the body to disk and applies the user's plan).
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, uploads: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        if scope["method"] == "POST":
            limit = self.uploads.get(scope["path"], limit)
        received = 0
        started = False
        csp = csp_for(scope["path"])

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                headers.append(csp)
                message = {**message, "headers": headers}
            await send(message)

        async def refuse() -> None:  # a problem+json 413, with the security headers too
            refusal = status_problem(413, too_large(limit), headers={"connection": "close"})
            await refusal(scope, receive, with_headers)

        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await refuse()
            return
        try:
            await self.app(scope, limited_receive, with_headers)
        except BodyTooLarge:
            if not started:
                await refuse()
