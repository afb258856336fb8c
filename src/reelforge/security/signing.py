"""Signed, expiring URLs for downloads: a `<video src>` cannot send an Authorization
header, so the API hands out links that carry their own short-lived permission."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reelforge.security.crypto import derive_key


@dataclass(frozen=True)
class UrlSigner:
    secret: str
    clock: Callable[[], float] = time.time
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", derive_key(self.secret, purpose="download-url"))

    def _mac(self, resource: str, expires: int) -> str:
        message = f"{resource}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def sign(self, resource: str, ttl_s: int) -> tuple[int, str]:
        """(expires, sig) for `resource` (e.g. a URL path), valid `ttl_s` seconds."""
        expires = int(self.clock()) + ttl_s
        return expires, self._mac(resource, expires)

    def verify(self, resource: str, expires: int, sig: str) -> bool:
        if expires < self.clock():
            return False
        return hmac.compare_digest(self._mac(resource, expires), sig)
