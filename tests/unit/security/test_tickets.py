from __future__ import annotations

import pytest

from reelforge.errors import Unauthorized
from reelforge.security.tickets import WsTickets

SECRET = "s" * 40


def test_a_ticket_seals_the_credential_until_it_expires() -> None:
    now = [1000.0]
    tickets = WsTickets(SECRET, ttl_s=30, clock=lambda: now[0])
    ticket = tickets.issue("rfk_the-real-key")
    assert "rfk_the-real-key" not in ticket and ticket.startswith("wst_")
    assert tickets.open(ticket).credential == "rfk_the-real-key"
    assert tickets.open(ticket).nonce != tickets.open(tickets.issue("rfk_x")).nonce
    now[0] = 1031.0
    with pytest.raises(Unauthorized, match="expired"):
        tickets.open(ticket)


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "AA", lambda t: t[4:], lambda t: "wst_"])
def test_a_forged_or_altered_ticket_is_refused(mangle: object) -> None:
    ticket = WsTickets(SECRET).issue("token")
    with pytest.raises(Unauthorized):
        WsTickets(SECRET).open(mangle(ticket))  # type: ignore[operator]
    with pytest.raises(Unauthorized):
        WsTickets("t" * 40).open(ticket)  # another server's key
