from __future__ import annotations

from collections.abc import Callable

import pytest
from pwdlib.hashers.argon2 import Argon2Hasher

from reelforge.errors import InvalidInput
from reelforge.security import passwords
from reelforge.security.passwords import (
    DUMMY_HASH,
    check_password_policy,
    hash_password,
    verify_password,
)

PASSWORD = "correct horse battery staple"
CURRENT = Argon2Hasher(
    memory_cost=passwords.ARGON2_MEMORY_KIB,
    time_cost=passwords.ARGON2_PASSES,
    parallelism=passwords.ARGON2_LANES,
)


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_hash_is_salted_argon2id(stored: str) -> None:
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert hash_password(PASSWORD) != stored


def test_right_password_verifies_without_upgrade(stored: str) -> None:
    assert verify_password(PASSWORD, stored) == (True, None)


def test_wrong_password_fails(stored: str) -> None:
    assert verify_password(PASSWORD + "!", stored) == (False, None)
    assert verify_password("", stored) == (False, None)


def test_hash_with_old_parameters_is_upgraded() -> None:
    weak = Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert verify_password("not it at all", weak) == (False, None)
    ok, upgraded = verify_password(PASSWORD, weak)
    assert ok
    assert upgraded is not None and upgraded != weak
    assert not CURRENT.check_needs_rehash(upgraded)
    assert verify_password(PASSWORD, upgraded) == (True, None)


def test_dummy_hash_uses_current_parameters() -> None:
    # Otherwise an unknown email would cost less than a wrong password.
    assert Argon2Hasher.identify(DUMMY_HASH)
    assert not CURRENT.check_needs_rehash(DUMMY_HASH)


@pytest.mark.parametrize("stored_hash", [None, "", "$2b$12$notanargon2hashatall", "garbage"])
def test_missing_or_foreign_hash_costs_a_real_verify(
    stored_hash: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_verify: Callable[[str, str], bool] = passwords._HASHER.verify

    def spy(password: str, hash: str) -> bool:
        calls.append(hash)
        return real_verify(password, hash)

    monkeypatch.setattr(passwords._HASHER, "verify", spy)
    assert verify_password(PASSWORD, stored_hash) == (False, None)
    assert calls == [DUMMY_HASH]


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Tr0ub4dor&3x",
        "xq7-Lm2#pz",  # exactly 10 characters, 10 distinct
        "a" * 60 + "bcdef" + "x" * 63,  # exactly 128 characters
        "ünïcødé-pässwörd",
        "jo-likes-long-walks",  # local part "jo" is too short to count
    ],
)
def test_policy_accepts(password: str) -> None:
    check_password_policy(password, email="jo@example.com")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", "at least 10 characters"),
        ("Sh0rt!pw", "at least 10 characters"),
        ("abcdef" * 21 + "xyz", "at most 128 characters"),
        (" " * 12, "only spaces"),
        ("\t\n " * 4, "only spaces"),
        ("aaaaaaaaaaaa", "5 different characters"),
        ("abababab1212", "5 different characters"),
        ("my-Alice.Smith-pw!", "email"),
        ("ALICE.SMITH2024", "email"),
        ("password123", "too common"),
        ("PassWord123", "too common"),
        ("qwertyuiop", "too common"),
        ("1234567890", "too common"),
        ("abcde12345", "too easy to guess"),
        ("Password1!", "too easy to guess"),
        ("Summer2024!", "too easy to guess"),
        ("P@ssw0rd2024", "too easy to guess"),
        ("kq8!z" * 25, "too easy to guess"),
    ],
)
def test_policy_refuses(password: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as caught:
        check_password_policy(password, email="alice.smith@example.com")
    assert "\n" not in caught.value.message and caught.value.field == "password"


def test_common_list_only_holds_passwords_the_other_rules_let_through() -> None:
    for common in passwords.COMMON_PASSWORDS:
        assert common == common.casefold()
        assert passwords.PASSWORD_MIN_CHARS <= len(common) <= passwords.PASSWORD_MAX_CHARS
        assert len(set(common)) >= passwords.PASSWORD_MIN_DISTINCT_CHARS
    assert len(passwords.COMMON_PASSWORDS) >= 40
