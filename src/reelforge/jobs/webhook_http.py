"""One webhook attempt over HTTP: to the checked address, no redirects, a short timeout.

`http.client` rather than urllib or httpx: it never follows redirects, and connecting to the
address `security.addresses.check_url` approved (while TLS still checks the host name) is one
overridden `connect`. `WebhookSender` takes any `Transport`, so tests can swap this one out.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from reelforge.security.addresses import Destination

EXCERPT_BYTES = 1024
"""How much of an answer the delivery log keeps."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status, or an error before any (refused, timeout, reset)."""

    status_code: int | None
    duration_ms: int
    excerpt: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the host's DNS says now."""

    def __init__(self, destination: Destination, timeout_s: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout_s)
        self._ip = destination.ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedTLSConnection(http.client.HTTPSConnection):
    """As `_PinnedConnection`, with TLS checked against the host name (SNI and certificate)."""

    def __init__(self, destination: Destination, timeout_s: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(destination.host, destination.port, timeout=timeout_s, context=self._tls)
        self._ip = destination.ip

    def connect(self) -> None:
        raw = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(
    destination: Destination, body: bytes, headers: dict[str, str], timeout_s: float
) -> Outcome:
    """POST once; a redirect is an answer like any other non-2xx (never followed)."""
    connection_class = _PinnedTLSConnection if destination.scheme == "https" else _PinnedConnection
    connection = connection_class(destination, timeout_s)
    started = time.monotonic()
    try:
        connection.request("POST", destination.target, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "reelforge-webhooks", **headers,
        })  # fmt: skip
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
        return Outcome(response.status, _elapsed_ms(started), excerpt)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, _elapsed_ms(started), error=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connection.close()


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


Transport = Callable[[Destination, bytes, dict[str, str], float], Outcome]
