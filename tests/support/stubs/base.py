"""A tiny threaded HTTP server for vendor stubs: routes by method + path regex, records
every request (to assert request shape, auth headers and call counts), and can be told
to fail the next calls (429 with Retry-After, 500, 401, malformed bodies).

    with StubServer({("POST", r"/v1/chat/completions"): handler}) as stub:
        stub.fail_next("/v1/chat", StubResponse(429, headers={"Retry-After": "0"}))
        client = ProviderClient("x", stub.url + "/v1")
        ...
        assert stub.count("POST", "/v1/chat/completions") == 2
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class StubResponse:
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def encoded(self) -> tuple[bytes, str]:
        if self.json is not None:
            return json.dumps(self.json).encode(), self.content_type or "application/json"
        return self.body, self.content_type or "application/octet-stream"


Handler = Callable[[Recorded, re.Match[str]], StubResponse]


class StubServer:
    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.routes = [
            (method, re.compile(pattern + "$"), h) for (method, pattern), h in routes.items()
        ]
        self.requests: list[Recorded] = []
        self._failures: deque[tuple[str, StubResponse]] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def fail_next(self, path_prefix: str, *responses: StubResponse) -> None:
        """The next calls whose path starts with `path_prefix` get these responses, in order."""
        with self._lock:
            self._failures.extend((path_prefix, r) for r in responses)

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        return len(self.matching(method, path_prefix))

    def matching(self, method: str | None = None, path_prefix: str = "") -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            ]

    def _respond(self, request: Recorded) -> StubResponse:
        with self._lock:
            self.requests.append(request)
            for i, (prefix, canned) in enumerate(self._failures):
                if request.path.startswith(prefix):
                    del self._failures[i]
                    return canned
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                return handler(request, match)
        return StubResponse(404, json={"error": {"message": f"no route {request.path}"}})

    def __enter__(self) -> StubServer:
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                parts = urlsplit(self.path)
                request = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                response = stub._respond(request)
                body, content_type = response.encoded()
                self.send_response(response.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        serve = partial(self._server.serve_forever, poll_interval=0.05)  # quick shutdown
        threading.Thread(target=serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def running(routes: dict[tuple[str, str], Handler]) -> Iterator[StubServer]:
    with StubServer(routes) as stub:
        yield stub
