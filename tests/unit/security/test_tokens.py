from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from reelforge.errors import InvalidInput, Unauthorized
from reelforge.security.crypto import derive_key
from reelforge.security.tokens import (
    ACCESS_TOKEN_PURPOSE,
    API_KEY_PREFIX,
    REFRESH_TOKEN_PREFIX,
    AccessTokens,
    api_key_lookup_prefix,
    digests_match,
    new_api_key,
    new_opaque_token,
    new_refresh_token,
    token_digest,
)

SECRET = "test-server-secret-0123456789abcdef0123456789"
NOW = 1_700_000_000
INVALID = "Access token is invalid"
EXPIRED = "Access token has expired"


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(clock: Clock) -> AccessTokens:
    return AccessTokens(SECRET, "reelforge", "reelforge-api", clock=clock)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "reelforge", "aud": "reelforge-api", "sub": "user-1", "sid": "session-1",
        "jti": "jti-1", "scope": "user", "iat": NOW, "exp": NOW + 900,
    }  # fmt: skip
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], algorithm: str = "HS256") -> str:
    # The key AccessTokens really signs with, so only the property under test differs.
    key = derive_key(SECRET, purpose=ACCESS_TOKEN_PURPOSE, length=64)
    return jwt.encode(claims, key, algorithm=algorithm)


def test_round_trip(access: AccessTokens) -> None:
    issued = access.issue("user-1", "session-1", scope="admin")
    claims = access.verify(issued.token)
    assert (claims.subject, claims.session_id, claims.scope) == ("user-1", "session-1", "admin")
    assert claims.jti == issued.jti
    assert claims.expires_at == issued.expires_at == datetime.fromtimestamp(NOW + 900, UTC)
    assert access.verify(access.issue("user-1", "session-1").token).scope == "user"


def test_each_token_gets_its_own_jti(access: AccessTokens) -> None:
    assert len({access.issue("u", "s").jti for _ in range(20)}) == 20


def test_token_valid_until_expiry_plus_leeway(access: AccessTokens, clock: Clock) -> None:
    token = access.issue("user-1", "session-1").token
    clock.now = NOW + 900 + 9
    assert access.verify(token).subject == "user-1"
    clock.now = NOW + 900 + 10
    with pytest.raises(Unauthorized, match=EXPIRED):
        access.verify(token)


def test_token_issued_in_the_future_is_rejected(access: AccessTokens, clock: Clock) -> None:
    token = access.issue("user-1", "session-1").token
    clock.now = NOW - 60
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(token)


def test_not_yet_valid_nbf_is_rejected(access: AccessTokens) -> None:
    assert access.verify(_sign(_claims(nbf=NOW))).subject == "user-1"
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(_sign(_claims(nbf=NOW + 60)))


@pytest.mark.parametrize(
    "other",
    [
        {"audience": "someone-else"},
        {"issuer": "evil"},
        {"secret": "another-secret-0123456789abcdef0123456789"},
    ],
    ids=["audience", "issuer", "secret"],
)
def test_token_from_other_config_is_rejected(
    access: AccessTokens, clock: Clock, other: dict[str, str]
) -> None:
    config: dict[str, Any] = {"secret": SECRET, "issuer": "reelforge", "audience": "reelforge-api"}
    foreign = AccessTokens(**(config | other), clock=clock)
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(foreign.issue("user-1", "session-1").token)


def test_tampered_payload_is_rejected(access: AccessTokens) -> None:
    header, _, signature = access.issue("user-1", "session-1").token.split(".")
    forged = f"{header}.{_b64(_claims(sub='admin-1'))}.{signature}"
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(forged)


def test_alg_none_is_rejected(access: AccessTokens) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(unsigned)


def test_only_the_configured_algorithm_is_accepted(access: AccessTokens) -> None:
    assert access.verify(_sign(_claims())).subject == "user-1"  # control: the key is right
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(_sign(_claims(), algorithm="HS512"))


def test_other_algorithm_can_be_configured(clock: Clock) -> None:
    hs512 = AccessTokens(SECRET, "reelforge", "reelforge-api", algorithm="HS512", clock=clock)
    token = hs512.issue("user-1", "session-1").token
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    assert hs512.verify(token).subject == "user-1"


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "sid", "jti", "scope", "iat", "exp"])
def test_missing_claim_is_rejected(access: AccessTokens, claim: str) -> None:
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(_sign(_claims(**{claim: None})))


@pytest.mark.parametrize(
    "overrides",
    [{"sid": 7}, {"scope": ["user"]}, {"sub": 1}, {"jti": 1}, {"aud": ["reelforge-api"]}],
    ids=["sid", "scope", "sub", "jti", "aud-list"],
)
def test_wrongly_typed_claim_is_rejected(access: AccessTokens, overrides: dict[str, Any]) -> None:
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(_sign(_claims(**overrides)))


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "ey.ey.ey"])
def test_garbage_is_rejected(access: AccessTokens, token: str) -> None:
    with pytest.raises(Unauthorized, match=INVALID):
        access.verify(token)


@pytest.mark.parametrize(
    "kwargs",
    [{"secret": "too-short"}, {"algorithm": "RS256"}, {"algorithm": "none"}, {"ttl_s": 0}],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    config: dict[str, Any] = {"secret": SECRET, "issuer": "i", "audience": "a"}
    with pytest.raises(InvalidInput):
        AccessTokens(**(config | kwargs))


def test_secrets_stay_out_of_reprs(access: AccessTokens) -> None:
    issued = access.issue("user-1", "session-1")
    assert SECRET not in repr(access)
    assert issued.token not in repr(issued)


def test_opaque_tokens_are_unique_prefixed_and_digested() -> None:
    made = [new_opaque_token("abc_") for _ in range(200)]
    assert len({t.token for t in made}) == 200
    for opaque in made:
        assert opaque.token.startswith("abc_")
        assert len(opaque.token) == 4 + 43  # 32 random bytes in base64url
        assert opaque.digest == token_digest(opaque.token)
        assert opaque.token not in repr(opaque)
    assert new_refresh_token().token.startswith(REFRESH_TOKEN_PREFIX)


def test_digest_is_stable_sha256_hex() -> None:
    assert token_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    assert token_digest("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_api_key_exposes_a_lookup_prefix() -> None:
    key = new_api_key()
    assert key.token.startswith(API_KEY_PREFIX)
    assert key.lookup_prefix == key.token[:12] == api_key_lookup_prefix(key.token)
    assert key.digest == token_digest(key.token)
    assert key.token not in repr(key)
    assert len({new_api_key().lookup_prefix for _ in range(50)}) == 50


def test_digests_match() -> None:
    digest = token_digest("rft_secret")
    assert digests_match(digest, token_digest("rft_secret"))
    assert not digests_match(digest, token_digest("rft_other"))
    assert not digests_match(digest, "")
