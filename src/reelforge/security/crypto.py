"""Encryption at rest for secrets users give us (their provider API keys).

AES-256-GCM rather than Fernet: GCM authenticates *associated data*, so each
ciphertext is bound to a context (the owner's id) and fails to decrypt when copied
into another user's row; Fernet has no associated data. Random 96-bit nonces are
safe far beyond the number of secrets a deployment will ever store.

Ciphertext layout, base64url without padding:
    version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext + 16-byte tag
The key id lets a rotated deployment find the right key without trial decryption.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from reelforge.errors import InvalidInput, ReelforgeError

MIN_SECRET_BYTES = 32
FORMAT_VERSION = 1
_KEY_BYTES = 32
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = 1 + _KEY_ID_BYTES
_BODY_START = _HEADER_BYTES + _NONCE_BYTES


class DecryptionError(ReelforgeError):
    """A stored secret could not be decrypted: it was altered, belongs to another
    context, or the key that made it is no longer configured."""


def derive_key(secret: str, *, purpose: str, length: int = _KEY_BYTES) -> bytes:
    """Derive an independent key for one purpose from the server secret (HKDF-SHA256).

    One configured secret then serves token signing, encryption, ... without any two
    uses sharing a key: learning one derived key reveals nothing about the others.

    Raises:
        InvalidInput: when the secret is shorter than `MIN_SECRET_BYTES`.
    """
    material = secret.encode("utf-8")
    if len(material) < MIN_SECRET_BYTES:
        raise InvalidInput(f"The secret key must be at least {MIN_SECRET_BYTES} bytes long.")
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=f"reelforge:{purpose}".encode()
    )
    return hkdf.derive(material)


class SecretBox:
    """Encrypts with the current secret; decrypts with the current or any old one.

    To rotate: configure the new secret as current and the previous one in
    `old_secrets`, re-encrypt rows for which `needs_reencrypt` is true, then drop it.
    """

    __slots__ = ("_current_id", "_keys", "_purpose")

    def __init__(
        self, current_secret: str, old_secrets: Sequence[str] = (), *, purpose: str = "user-secrets"
    ) -> None:
        self._purpose = purpose
        self._keys: list[tuple[bytes, AESGCM]] = []
        for secret in (current_secret, *old_secrets):
            # One HKDF output split in two: the AES key, then its public key id.
            material = derive_key(
                secret, purpose=f"secretbox:{purpose}", length=_KEY_BYTES + _KEY_ID_BYTES
            )
            self._keys.append((material[_KEY_BYTES:], AESGCM(material[:_KEY_BYTES])))
        self._current_id = self._keys[0][0]

    def __repr__(self) -> str:
        return f"SecretBox(purpose={self._purpose!r}, keys={len(self._keys)})"

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt `plaintext` bound to `context` (e.g. the owner's user id)."""
        header = bytes([FORMAT_VERSION]) + self._current_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[0][1].encrypt(nonce, plaintext.encode("utf-8"), _aad(header, context))
        return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, token: str, *, context: str) -> str:
        """Decrypt a value made by `encrypt` with the same `context`.

        Raises:
            DecryptionError: malformed, altered, other context, or unknown key.
        """
        raw = _decode(token)
        header, key_id = raw[:_HEADER_BYTES], raw[1:_HEADER_BYTES]
        nonce, sealed = raw[_HEADER_BYTES:_BODY_START], raw[_BODY_START:]
        candidates = [aead for kid, aead in self._keys if kid == key_id]
        if not candidates:
            raise DecryptionError(
                "Stored secret was encrypted with a key that is no longer configured."
            )
        aad = _aad(header, context)
        for aead in candidates:  # more than one only if two secrets' key ids collide
            try:
                return aead.decrypt(nonce, sealed, aad).decode("utf-8")
            except InvalidTag:
                continue
        raise DecryptionError(
            "Stored secret failed its integrity check: it was altered, belongs to "
            "another owner, or was encrypted with another key."
        )

    def needs_reencrypt(self, token: str) -> bool:
        """True when `token` was made with an old secret (re-encrypt it after rotation)."""
        return _decode(token)[1:_HEADER_BYTES] != self._current_id


def _aad(header: bytes, context: str) -> bytes:
    if not context:
        raise ValueError("context must be non-empty: it binds a ciphertext to its owner")
    return header + context.encode("utf-8")


def _decode(token: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:  # binascii.Error, or non-ASCII input
        raise DecryptionError("Stored secret is not valid ciphertext.") from None
    if len(raw) < _BODY_START + _TAG_BYTES:
        raise DecryptionError("Stored secret is not valid ciphertext (too short).")
    if raw[0] != FORMAT_VERSION:
        raise DecryptionError(f"Stored secret has unsupported format version {raw[0]}.")
    return raw
