"""Which address a request came from, when it passed through proxies we run.

`X-Forwarded-For` is a list each proxy appends to: the client writes whatever it likes on
the left, and only the entries our own proxies added, on the right, can be believed. The
client is therefore the right-most hop that is not one of our proxies (taking the
left-most let anyone reset a per-IP limit by sending a new address each time).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

MAX_ADDRESS_CHARS = 64
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """`10.0.0.0/8`, `192.0.2.7`, `::1`... (settings.py checked that they parse)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address for a request from `peer` carrying `forwarded_for`.

    Args:
        peer: the address that connected to us.
        forwarded_for: the `X-Forwarded-For` header, when proxy headers are trusted.
        trusted: our proxies' addresses or networks. Empty: `peer` is taken to be our
            only proxy, so the right-most entry is the client.

    Returns:
        `peer` when there is no header or `peer` is not one of our proxies; otherwise the
        right-most hop outside `trusted` (the left-most if all are inside).
    """
    if not forwarded_for:
        return peer
    networks = parse_networks(trusted)
    if networks and not _is_trusted(peer, networks):
        return peer  # not through our proxy: the header is the client's own invention
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop[:MAX_ADDRESS_CHARS]
    return hops[0][:MAX_ADDRESS_CHARS] if hops else peer
