"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

import os

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# KEFU_PASSWORD_HASHING=fast picks argon2-cffi's cheapest profile. The test suite sets it,
# because the production profile (RFC 9106, 64 MiB, ~0.1-0.5 s a hash) dominates test time.
# Never set it in production. Verification reads the parameters from each hash, so hashes
# made under either profile verify under both.
_hasher = (
    PasswordHasher.from_parameters(profiles.CHEAPEST)
    if os.environ.get("KEFU_PASSWORD_HASHING") == "fast"
    else PasswordHasher()
)

MIN_PASSWORD_LENGTH = 10


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.isdigit() or password.isalpha():
        raise WeakPassword("password must mix letters with digits or symbols")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Verifying against this when the user does not exist keeps the response time the same, so
# timing does not reveal which usernames exist.
DUMMY_HASH = _hasher.hash("kefu-dummy-password-1")
