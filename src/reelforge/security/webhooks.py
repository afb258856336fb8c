"""Webhook signatures in the Standard Webhooks style (https://www.standardwebhooks.com).

A delivery carries three headers: `webhook-id` (the same on every retry of one delivery, so a
receiver can drop duplicates), `webhook-timestamp` (Unix seconds) and `webhook-signature`,
`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the endpoint's secret. The
timestamp is inside the signed text, so a receiver that refuses timestamps more than
`TOLERANCE_S` away from its clock refuses replays of captured deliveries too.

Secrets look like `whsec_<base64 key>`, the format the Standard Webhooks libraries accept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

from reelforge.errors import ReelforgeError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
TOLERANCE_S = 300
"""Five minutes either way: enough for clock skew and a slow network, short for a replay."""
SIGNATURE_VERSION = "v1"


class WebhookVerificationError(ReelforgeError):
    """A delivery's signature is missing, wrong, or its timestamp is outside the tolerance."""


def new_webhook_secret() -> str:
    """A fresh endpoint secret, shown to its owner once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise WebhookVerificationError("the webhook secret is not valid base64") from None


def sign_webhook(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a delivery is sent with."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(secret, message_id, timestamp, body),
    }


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    *,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Check a received delivery: call it with the raw body, before parsing it.

    Args:
        secret: The endpoint's `whsec_...` secret.
        headers: The request's headers (any case of their names).
        body: The raw request body, exactly as received.
        now: Unix time to judge the timestamp by (default: the clock).
        tolerance_s: How far the timestamp may be from `now`, either way.

    Raises:
        WebhookVerificationError: a header is missing, the timestamp is too old or too new,
            or no signature in the header matches.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        signatures = lowered["webhook-signature"]
    except (KeyError, ValueError):
        raise WebhookVerificationError("missing or malformed webhook headers") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("the webhook timestamp is outside the tolerance")
    expected = sign_webhook(secret, message_id, timestamp, body).encode()
    # The header may hold several space-separated signatures (during a secret rotation).
    if not any(hmac.compare_digest(expected, given.encode()) for given in signatures.split()):
        raise WebhookVerificationError("no webhook signature matches")
