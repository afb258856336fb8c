from __future__ import annotations

import pytest

from reelforge.security.proxies import client_address

LB = ("10.0.0.0/8",)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("10.0.0.2", None, LB, "10.0.0.2"),
        # The client wrote the left entries; our balancer appended what it saw.
        ("10.0.0.2", "1.1.1.1, 203.0.113.9", LB, "203.0.113.9"),
        ("10.0.0.2", "1.1.1.1, 203.0.113.9, 10.1.2.3", LB, "203.0.113.9"),  # two of ours
        ("198.51.100.4", "1.1.1.1", LB, "198.51.100.4"),  # not through our balancer
        ("10.0.0.2", "10.0.0.9, 10.0.0.8", LB, "10.0.0.9"),  # all ours: the first
        ("10.0.0.2", "garbage, 203.0.113.9", LB, "203.0.113.9"),
        ("10.0.0.2", " , ", LB, "10.0.0.2"),
        # No list: the peer is our only proxy, so its entry (the right-most) is the client.
        ("192.0.2.1", "1.1.1.1, 203.0.113.9", (), "203.0.113.9"),
        ("::1", "2001:db8::1", ("::1",), "2001:db8::1"),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(
    peer: str, forwarded: str | None, trusted: tuple[str, ...], client: str
) -> None:
    assert client_address(peer, forwarded, trusted) == client
