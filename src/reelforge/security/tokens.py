"""Credentials the API hands out: short-lived JWT access tokens and opaque secrets.

Access tokens are checked by signature alone (no database hit per request), so they
live only minutes. Refresh tokens and API keys are opaque random strings stored only
as digests: the server can revoke them, and a database leak does not reveal them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from reelforge.errors import InvalidInput, Unauthorized
from reelforge.security.crypto import derive_key

ACCESS_TOKEN_PURPOSE = "access-token"
REFRESH_TOKEN_PREFIX = "rft_"
API_KEY_PREFIX = "rfk_"
API_KEY_LOOKUP_CHARS = 12
OPAQUE_TOKEN_BYTES = 32
# Symmetric only: the key is a shared secret. Any other `alg` in a token is refused.
_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
_INVALID = "Access token is invalid; sign in again."


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str = field(repr=False)
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    session_id: str
    jti: str
    scope: str
    expires_at: datetime


@dataclass(frozen=True)
class AccessTokens:
    """Issues and verifies access tokens for one issuer/audience pair.

    The signing key is derived from `secret` (HKDF, purpose "access-token"), so the
    raw server secret never signs anything directly. `clock` returns Unix seconds.
    """

    secret: str = field(repr=False)
    issuer: str
    audience: str
    ttl_s: int = 900
    algorithm: str = "HS256"
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    leeway_s: int = 10
    _key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.algorithm not in _ALGORITHMS:
            raise InvalidInput(f"Unsupported JWT algorithm {self.algorithm!r}; use HS256.")
        if self.ttl_s <= 0:
            raise InvalidInput("Access token lifetime must be positive.")
        key = derive_key(self.secret, purpose=ACCESS_TOKEN_PURPOSE, length=64)
        object.__setattr__(self, "_key", key)

    def issue(self, subject: str, session_id: str, *, scope: str = "user") -> IssuedToken:
        """Sign a token for `subject` (user id) within login session `session_id`."""
        if not (subject and session_id and scope):
            raise ValueError("subject, session_id and scope must be non-empty")
        now = int(self.clock())
        exp = now + self.ttl_s
        jti = secrets.token_urlsafe(16)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "sid": session_id,
            "jti": jti,
            "scope": scope,
            "iat": now,
            "exp": exp,
        }
        token = jwt.encode(claims, self._key, algorithm=self.algorithm)
        return IssuedToken(token=token, jti=jti, expires_at=datetime.fromtimestamp(exp, UTC))

    def verify(self, token: str) -> AccessClaims:
        """Check signature, algorithm, issuer, audience, required claims and times.

        Raises:
            Unauthorized: expired, or invalid in any other way (distinct messages).
        """
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["iss", "aud", "sub", "sid", "jti", "scope", "iat", "exp"],
                    "strict_aud": True,
                    "verify_exp": False,  # times: checked below with self.clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(_INVALID) from exc
        now = self.clock()
        exp = _number(claims, "exp")
        if _number(claims, "iat") > now + self.leeway_s:
            raise Unauthorized(_INVALID)  # issued in the future: a forged or skewed clock
        if "nbf" in claims and _number(claims, "nbf") > now + self.leeway_s:
            raise Unauthorized(_INVALID)
        if exp <= now - self.leeway_s:
            raise Unauthorized("Access token has expired; refresh it or sign in again.")
        session_id, scope = claims["sid"], claims["scope"]
        if not (isinstance(session_id, str) and isinstance(scope, str)):
            raise Unauthorized(_INVALID)
        try:
            expires_at = datetime.fromtimestamp(int(exp), UTC)
        except (OverflowError, OSError, ValueError):  # past year 9999: not one of ours
            raise Unauthorized(_INVALID) from None
        return AccessClaims(
            subject=claims["sub"],
            session_id=session_id,
            jti=claims["jti"],
            scope=scope,
            expires_at=expires_at,
        )


@dataclass(frozen=True, slots=True)
class OpaqueToken:
    token: str = field(repr=False)
    digest: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A personal API key: `token` is shown once; store `lookup_prefix` and `digest`.

    `lookup_prefix` (e.g. "rfk_Ab3dE9xQ") is 48 random bits, not a secret: it names
    the key in listings and logs and finds its row; `digest` then confirms it.
    """

    token: str = field(repr=False)
    lookup_prefix: str
    digest: str


def new_opaque_token(prefix: str) -> OpaqueToken:
    """A 256-bit random token; the prefix says what it is (and helps secret scanners)."""
    token = prefix + secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)
    return OpaqueToken(token=token, digest=token_digest(token))


def new_refresh_token() -> OpaqueToken:
    return new_opaque_token(REFRESH_TOKEN_PREFIX)


def new_api_key() -> ApiKey:
    opaque = new_opaque_token(API_KEY_PREFIX)
    prefix = api_key_lookup_prefix(opaque.token)
    return ApiKey(token=opaque.token, lookup_prefix=prefix, digest=opaque.digest)


def api_key_lookup_prefix(token: str) -> str:
    """The stored `lookup_prefix` of a presented API key (its first 12 characters)."""
    return token[:API_KEY_LOOKUP_CHARS]


def token_digest(token: str) -> str:
    """SHA-256 hex of an opaque token: the only form of it the database keeps.

    A fast hash is right here, unlike for passwords: these tokens carry 256 random
    bits, so there is no dictionary to try and brute force is hopeless at any hash
    speed. A slow hash would only slow every request, and a deterministic digest can
    be found through an index.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def digests_match(a: str, b: str) -> bool:
    """Compare two digests in constant time (no timing hint of a common prefix)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(_INVALID)
    return float(value)
