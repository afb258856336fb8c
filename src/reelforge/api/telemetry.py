"""Per-request telemetry, as pure ASGI middleware (it sees every request, errors included):

- a request id: the client's or the load balancer's `X-Request-ID` when it is a sane token,
  else a new one; bound to the log context (every log line of the request carries it), sent
  back in the response, and stored with any job the request submits so the worker's lines
  carry it too;
- `reelforge_http_request_duration_seconds` by method, route template and status (labels
  stay bounded: the route's template, never the raw path);
- `reelforge_websocket_connections`: live sockets open now;
- the time to the response's start of API routes, handed to `on_response` (the monitor
  samples it for the admins' analytics; to the start, so a download or a stream is not
  counted as slow for its length).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from prometheus_client import CollectorRegistry, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.logs import get_logger

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10)
UNMATCHED = "unmatched"
"""The route label of paths no API route answers (the web app's files, 404s)."""
log = get_logger("reelforge.api.requests")


def request_id_from(scope: Scope) -> str:
    sent: bytes | None = dict(scope.get("headers", [])).get(REQUEST_ID_HEADER)
    if sent is not None and _SANE_ID.match(sent):
        return sent.decode()
    return uuid.uuid4().hex


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            "reelforge_http_request_duration_seconds", "API response time, by route",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS_S, registry=registry,
        )  # fmt: skip
        self.websockets = Gauge(
            "reelforge_websocket_connections", "Live-event WebSockets open", registry=registry
        )


class RequestTelemetry:
    def __init__(
        self, app: ASGIApp, *, metrics: HttpMetrics, prefix: str,
        on_response: Callable[[float], None] | None = None,
    ) -> None:  # fmt: skip
        self.app = app
        self.metrics = metrics
        self.prefix = prefix
        self.on_response = on_response

    def route_of(self, scope: Scope) -> str:
        """The matched route's template under the API prefix (a route of a router included
        with a prefix knows only its own part of the path)."""
        template: str | None = getattr(scope.get("route"), "path", None)
        if template is None:
            return UNMATCHED
        if scope["path"].startswith(self.prefix) and not template.startswith(self.prefix):
            return self.prefix + template
        return template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if scope["type"] == "websocket":
            with self.metrics.websockets.track_inprogress():
                await self.app(scope, receive, send)
            return
        status = 500  # if the app raises before it answers
        started = time.perf_counter()
        answered_s: float | None = None

        async def tagged(message: Message) -> None:
            nonlocal status, answered_s
            if message["type"] == "http.response.start":
                status = message["status"]
                answered_s = time.perf_counter() - started
                headers = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            elapsed_s = time.perf_counter() - started
            template = self.route_of(scope)
            self.metrics.latency.labels(scope["method"], template, str(status)).observe(elapsed_s)
            if self.on_response is not None and answered_s is not None and template != UNMATCHED:
                self.on_response(answered_s)
            log.info("request", method=scope["method"], route=template, status=status,
                     ms=round(elapsed_s * 1000, 1))  # fmt: skip
