"""Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on every request):
request body size limit and security headers."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.api.errors import PROBLEM_JSON, TYPE_PREFIX

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/api/docs", "/api/redoc")
"""Swagger UI needs scripts and styles: no `default-src 'none'` there."""


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI, reading the body, passes it on as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": TYPE_PREFIX + "payload-too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"the request body is larger than {limit} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *SECURITY_HEADERS,
                API_CSP,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LimitsAndHeaders:
    """Refuses bodies over `max_body_bytes` (by Content-Length, or while streaming when the
    client sends chunks) with a 413, and adds security headers to every response."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_413(send, limit)
            return
        received = 0
        started = False
        docs = scope["path"].startswith(DOCS_PATHS)

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
                if not docs:
                    headers.append(API_CSP)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, with_headers)
        except BodyTooLarge:
            if not started:
                await _send_413(send, limit)
