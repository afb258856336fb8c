"""Security primitives for the platform API: passwords, tokens, secrets at rest, rate limits,
webhook signatures (`verify_webhook`, for receivers too).

A pure library: no web framework, database or settings. Values (secrets, issuer,
storage URI) are passed in by the caller, so everything here is unit-testable.
"""

from __future__ import annotations

from reelforge.security.crypto import DecryptionError, SecretBox, derive_key
from reelforge.security.passwords import (
    DUMMY_HASH,
    check_password_policy,
    hash_password,
    verify_password,
)
from reelforge.security.ratelimit import RateLimiter
from reelforge.security.tokens import (
    API_KEY_PREFIX,
    REFRESH_TOKEN_PREFIX,
    AccessClaims,
    AccessTokens,
    ApiKey,
    IssuedToken,
    OpaqueToken,
    api_key_lookup_prefix,
    digests_match,
    new_api_key,
    new_opaque_token,
    new_refresh_token,
    token_digest,
)
from reelforge.security.webhooks import (
    WebhookVerificationError,
    new_webhook_secret,
    verify_webhook,
)

__all__ = [
    "API_KEY_PREFIX",
    "DUMMY_HASH",
    "REFRESH_TOKEN_PREFIX",
    "AccessClaims",
    "AccessTokens",
    "ApiKey",
    "DecryptionError",
    "IssuedToken",
    "OpaqueToken",
    "RateLimiter",
    "SecretBox",
    "WebhookVerificationError",
    "api_key_lookup_prefix",
    "check_password_policy",
    "derive_key",
    "digests_match",
    "hash_password",
    "new_api_key",
    "new_opaque_token",
    "new_refresh_token",
    "new_webhook_secret",
    "token_digest",
    "verify_password",
    "verify_webhook",
]
