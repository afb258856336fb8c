from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelforge.errors import InvalidInput
from reelforge.security.crypto import DecryptionError, SecretBox, derive_key

OLD = "old-server-secret-0123456789abcdef0123456789"
NEW = "new-server-secret-0123456789abcdef0123456789"
BOX = SecretBox(NEW)


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@given(plaintext=st.text(), context=st.text(min_size=1))
def test_round_trip(plaintext: str, context: str) -> None:
    token = BOX.encrypt(plaintext, context=context)
    assert BOX.decrypt(token, context=context) == plaintext


def test_unicode_round_trip_and_no_plaintext_in_output() -> None:
    secret = "sk-ключ-🔑-密钥"
    token = BOX.encrypt(secret, context="user-1")
    assert token.isascii() and "sk-" not in token
    assert BOX.decrypt(token, context="user-1") == secret


def test_same_plaintext_encrypts_differently() -> None:
    assert BOX.encrypt("sk-1", context="u") != BOX.encrypt("sk-1", context="u")


def test_wrong_context_fails() -> None:
    token = BOX.encrypt("sk-live-123", context="user-1")
    with pytest.raises(DecryptionError, match="integrity check"):
        BOX.decrypt(token, context="user-2")


@given(data=st.data())
def test_any_altered_byte_fails(data: st.DataObject) -> None:
    raw = _raw(BOX.encrypt("sk-live-123", context="user-1"))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(DecryptionError):
        BOX.decrypt(_token(bytes(raw)), context="user-1")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "too short"),
        ("AQ", "too short"),
        ("not base64!", "not valid ciphertext"),
        ("é" * 60, "not valid ciphertext"),
        (_token(b"\x02" + bytes(40)), "unsupported format version 2"),
    ],
)
def test_malformed_input_fails_clearly(token: str, reason: str) -> None:
    with pytest.raises(DecryptionError, match=reason):
        BOX.decrypt(token, context="user-1")


def test_truncated_ciphertext_fails() -> None:
    token = BOX.encrypt("sk-live-123", context="user-1")
    with pytest.raises(DecryptionError):
        BOX.decrypt(token[:-4], context="user-1")


def test_unknown_key_fails() -> None:
    token = SecretBox(OLD).encrypt("sk-1", context="u")
    with pytest.raises(DecryptionError, match="no longer configured"):
        BOX.decrypt(token, context="u")


def test_purpose_separates_keys() -> None:
    token = SecretBox(NEW, purpose="webhooks").encrypt("sk-1", context="u")
    with pytest.raises(DecryptionError):
        BOX.decrypt(token, context="u")


def test_rotation_old_key_decrypts_new_key_encrypts() -> None:
    old_box = SecretBox(OLD)
    rotated = SecretBox(NEW, old_secrets=[OLD])
    old_token = old_box.encrypt("sk-old", context="u")

    assert rotated.decrypt(old_token, context="u") == "sk-old"
    assert rotated.needs_reencrypt(old_token)

    new_token = rotated.encrypt("sk-old", context="u")
    assert not rotated.needs_reencrypt(new_token)
    assert BOX.decrypt(new_token, context="u") == "sk-old"  # made with NEW
    with pytest.raises(DecryptionError, match="no longer configured"):
        old_box.decrypt(new_token, context="u")


def test_empty_context_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        BOX.encrypt("sk-1", context="")


def test_short_secret_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 32 bytes"):
        SecretBox("short")
    with pytest.raises(InvalidInput):
        SecretBox(NEW, old_secrets=["short"])


def test_derive_key_is_deterministic_and_separated_by_purpose() -> None:
    key = derive_key(NEW, purpose="a")
    assert len(key) == 32
    assert key == derive_key(NEW, purpose="a")
    assert key != derive_key(NEW, purpose="b")
    assert key != derive_key(OLD, purpose="a")
    assert len(derive_key(NEW, purpose="a", length=64)) == 64


def test_repr_hides_keys() -> None:
    assert NEW not in repr(BOX)
    assert repr(SecretBox(NEW, [OLD])) == "SecretBox(purpose='user-secrets', keys=2)"
