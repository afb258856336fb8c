"""Webhook signatures: what a receiver checks with `verify_webhook`."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from reelforge.security.webhooks import (
    TOLERANCE_S,
    WebhookVerificationError,
    new_webhook_secret,
    signed_headers,
    verify_webhook,
)

NOW = 1_765_000_000
BODY = b'{"type":"render.succeeded","data":{}}'


def test_a_signed_delivery_verifies_and_matches_the_standard_webhooks_scheme() -> None:
    secret = new_webhook_secret()
    headers = signed_headers(secret, "msg_1", NOW, BODY)
    verify_webhook(secret, headers, BODY, now=NOW)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1.%d." % NOW + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_header_names_are_matched_in_any_case() -> None:
    secret = new_webhook_secret()
    headers = {k.title(): v for k, v in signed_headers(secret, "m", NOW, BODY).items()}
    verify_webhook(secret, headers, BODY, now=NOW)


@pytest.mark.parametrize("skew_s", [TOLERANCE_S + 1, -(TOLERANCE_S + 1), 3600])
def test_an_old_or_future_timestamp_is_rejected(skew_s: int) -> None:
    """A replay of a captured delivery carries its old, signed timestamp."""
    secret = new_webhook_secret()
    headers = signed_headers(secret, "m", NOW, BODY)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(secret, headers, BODY, now=NOW + skew_s)


def test_a_replayed_delivery_with_a_new_timestamp_fails_the_signature() -> None:
    secret = new_webhook_secret()
    headers = signed_headers(secret, "m", NOW, BODY) | {"webhook-timestamp": str(NOW + 600)}
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_webhook(secret, headers, BODY, now=NOW + 600)


def test_a_changed_body_or_another_secret_is_rejected() -> None:
    secret = new_webhook_secret()
    headers = signed_headers(secret, "m", NOW, BODY)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers, BODY + b" ", now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(new_webhook_secret(), headers, BODY, now=NOW)


def test_any_of_several_signatures_may_match() -> None:
    secret = new_webhook_secret()
    headers = signed_headers(secret, "m", NOW, BODY)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    verify_webhook(secret, headers, BODY, now=NOW)


def test_missing_headers_are_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(new_webhook_secret(), {"webhook-id": "m"}, BODY, now=NOW)
