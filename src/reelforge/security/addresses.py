"""Where an outgoing request may go: refusing private destinations (SSRF).

A user's webhook URL must not reach the server's own network: loopback, link-local (the cloud
metadata service at 169.254.169.254), private, shared, multicast, reserved or unspecified
addresses are refused unless the operator allows them. The check resolves the host, and the
sender connects to the very address that was checked (`Destination.ip`), so a DNS answer that
changes between the check and the connection (rebinding) cannot slip past it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from reelforge.errors import InvalidInput

ALLOWED_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class Destination:
    """A URL checked for sending: connect to `ip`, but speak to `host` (Host header, TLS SNI)."""

    scheme: str
    host: str
    port: int
    ip: str
    target: str
    """Path and query, as sent in the request line."""


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> Destination:
    """Resolve `url`'s host and make sure every address it has is public.

    Raises:
        InvalidInput: not an absolute http(s) URL, the host does not resolve, or an address
            is not public (and `allow_private` is false).
    """
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise InvalidInput("the URL must be an absolute http:// or https:// URL", field="url")
    if parts.username or parts.password:
        raise InvalidInput("the URL must not carry a user name or password", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        raise InvalidInput(f"the host {parts.hostname} cannot be resolved", field="url") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private and not all(is_public(ip) for ip in addresses):
        raise InvalidInput(
            f"the host {parts.hostname} resolves to a private, loopback or link-local "
            "address: webhooks go to public addresses only",
            field="url",
        )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(parts.scheme, parts.hostname, port, str(addresses[0]), target)
