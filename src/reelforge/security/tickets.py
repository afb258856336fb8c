"""One-use, short-lived tickets that stand in for a credential in a WebSocket URL.

Browsers cannot send headers on a WebSocket handshake, so the token went in the query
string, and from there into every proxy's access log. A ticket is the caller's
credential sealed (AES-GCM, `SecretBox`) with an expiry and a nonce: a logged ticket
reveals nothing, stops working after `ttl_s` seconds, and is refused once redeemed (the
caller records the nonce, see `api/routes/live.py`). Any API replica with the same
secret key can open it: no shared ticket store.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reelforge.errors import Unauthorized
from reelforge.security.crypto import DecryptionError, SecretBox

TICKET_PREFIX = "wst_"
_PURPOSE = "ws-ticket"
_INVALID = "WebSocket ticket is invalid or expired; ask for a new one."


@dataclass(frozen=True, slots=True)
class Redeemed:
    credential: str = field(repr=False)
    nonce: str


@dataclass(frozen=True)
class WsTickets:
    """Seals credentials into tickets valid `ttl_s` seconds (`clock`: Unix seconds)."""

    secret: str = field(repr=False)
    ttl_s: int = 30
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    _box: SecretBox = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_box", SecretBox(self.secret, purpose=_PURPOSE))

    def issue(self, credential: str) -> str:
        sealed = json.dumps(
            {"c": credential, "e": int(self.clock()) + self.ttl_s, "n": secrets.token_hex(16)}
        )
        return TICKET_PREFIX + self._box.encrypt(sealed, context=_PURPOSE)

    def open(self, ticket: str) -> Redeemed:
        """The credential inside a ticket that is genuine and not expired.

        Raises:
            Unauthorized: altered, made with another key, or expired.
        """
        if not ticket.startswith(TICKET_PREFIX):
            raise Unauthorized(_INVALID, stage="auth")
        try:
            content = json.loads(self._box.decrypt(ticket[len(TICKET_PREFIX) :], context=_PURPOSE))
        except (DecryptionError, ValueError):
            raise Unauthorized(_INVALID, stage="auth") from None
        if content["e"] < self.clock():
            raise Unauthorized(_INVALID, stage="auth")
        return Redeemed(credential=content["c"], nonce=content["n"])
