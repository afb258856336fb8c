"""Password hashing (Argon2id) and the sign-up password policy.

Argon2id is memory-hard, so a stolen database costs an attacker real hardware per
guess. `verify_password` also reports when a stored hash was made with older
parameters, so hashes upgrade themselves on the next successful login.
"""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from zxcvbn import zxcvbn

from reelforge.errors import InvalidInput

PASSWORD_MIN_CHARS = 10
# Argon2 hashes any length, but an upper bound stops megabyte "passwords" being
# used to burn server CPU/RAM.
PASSWORD_MAX_CHARS = 128
PASSWORD_MIN_DISTINCT_CHARS = 5
PASSWORD_MIN_SCORE = 3
"""zxcvbn's scale: 3 is "safely unguessable" offline against a slow hash (~10^8 guesses)."""
_EMAIL_LOCAL_MIN_CHARS = 4

# A hash of a random string that no one knows, made with the current default
# parameters (a test keeps them in sync). Verifying against it when the email is
# unknown makes "no such user" cost as much as "wrong password".
DUMMY_HASH = (
    "$argon2id$v=19$m=47104,t=1,p=1$Tvs7VyCXV8823S9GRSBg/w"
    "$BqSRxKYtM1ogD9gQVGh0vpDuZtn6OGXsrimeoEaxsM4"
)

# Only passwords long enough to pass the length rule matter here; shorter ones
# ("123456", "qwerty") are already refused for length. Compared case-folded.
# fmt: off
COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "0987654321", "12345678910", "123456789a", "a123456789",
        "1q2w3e4r5t", "1q2w3e4r5t6y", "q1w2e3r4t5", "1qaz2wsx3edc", "zaq12wsxcde",
        "qwertyuiop", "asdfghjkl;", "zxcvbnm123", "qwerty1234", "qwerty12345",
        "qwerty123456", "qwertyuiop1", "asdfghjkl1", "password12", "password123",
        "password1234", "password!1", "passw0rd123", "p@ssw0rd123", "p@ssword123",
        "iloveyou12", "iloveyou123", "letmein123", "welcome123", "welcome1234",
        "sunshine123", "princess123", "football123", "baseball123", "dragon1234",
        "monkey1234", "master1234", "superman123", "starwars123", "trustno1234",
        "abc1234567", "abcdefghij", "abcdefg123", "abcd123456", "changeme123",
        "administrator", "admin12345", "admin123456", "computer123", "michael123",
        "whatever123", "secret1234", "1234abcd!!", "1234qwerasdf",
    }
)
# fmt: on

ARGON2_MEMORY_KIB = 47104
ARGON2_PASSES = 1
ARGON2_LANES = 1
"""OWASP's first Argon2id configuration (46 MiB, 1 pass, 1 lane): ~55 ms of one core. The
library's default (64 MiB, 3 passes, 4 lanes) costs ~3x the CPU for a comparable defence,
and on a busy server lanes do not run in parallel anyway; sign-up bursts queued behind it
(bench/RESULTS.md, load test). Older hashes still verify and are re-hashed at login."""
_HASHER = PasswordHash(
    (
        Argon2Hasher(
            memory_cost=ARGON2_MEMORY_KIB, time_cost=ARGON2_PASSES, parallelism=ARGON2_LANES
        ),
    )
)


def hash_password(password: str) -> str:
    """Return an Argon2id hash (salt and parameters included) to store."""
    return _HASHER.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password against a stored hash in roughly constant time.

    Args:
        password: What the user typed.
        password_hash: The stored hash, or None when no such user exists (or the user
            has no password): a dummy hash is verified so timing reveals nothing.

    Returns:
        (matches, new_hash). `new_hash` is set when the password matched but the
        stored hash used older parameters: store it in place of the old one.
    """
    if password_hash is None:
        _HASHER.verify(password, DUMMY_HASH)
        return False, None
    try:
        return _HASHER.verify_and_update(password, password_hash)
    except UnknownHashError:
        # Not an Argon2 hash (empty, or a placeholder for SSO-only accounts): refuse,
        # at the same cost as a real check.
        _HASHER.verify(password, DUMMY_HASH)
        return False, None


def check_password_policy(password: str, *, email: str) -> None:
    """Refuse a new password that is easy to guess.

    After the plain rules, zxcvbn (offline: its dictionaries of breached passwords, names
    and words ship with it) estimates how many guesses the password takes, with the email
    as a known word; below `PASSWORD_MIN_SCORE` it is refused with zxcvbn's own hint, so
    `Password1!` and `Summer2024!`, long enough and varied enough, are still refused.

    Raises:
        InvalidInput: with a one-line reason the user can act on, `field="password"`.
    """
    if len(password) < PASSWORD_MIN_CHARS:
        raise _weak(f"Password must be at least {PASSWORD_MIN_CHARS} characters long.")
    if len(password) > PASSWORD_MAX_CHARS:
        raise _weak(f"Password must be at most {PASSWORD_MAX_CHARS} characters long.")
    if not password.strip():
        raise _weak("Password cannot be only spaces.")
    if len(set(password)) < PASSWORD_MIN_DISTINCT_CHARS:
        raise _weak(
            f"Password must use at least {PASSWORD_MIN_DISTINCT_CHARS} different characters."
        )
    lowered = password.casefold()
    local_part = email.rpartition("@")[0].casefold()
    if len(local_part) >= _EMAIL_LOCAL_MIN_CHARS and local_part in lowered:
        raise _weak("Password must not contain your email address.")
    if lowered in COMMON_PASSWORDS:
        raise _weak("This password is too common; choose another one.")
    estimate = zxcvbn(password, user_inputs=[email, local_part], max_length=PASSWORD_MAX_CHARS)
    if estimate["score"] < PASSWORD_MIN_SCORE:
        hint = estimate["feedback"]["warning"] or "it follows a common pattern"
        raise _weak(
            f"This password is too easy to guess ({hint.rstrip('.')}); add a few "
            "uncommon words or use a password manager."
        )


def _weak(message: str) -> InvalidInput:
    return InvalidInput(message, field="password")
