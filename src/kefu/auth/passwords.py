"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

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


# argon2 costs ~0.1-0.5 s of CPU a hash: on the event loop it stalls every request (issue 21,
# finding 3). It runs in this pool instead; argon2-cffi releases the GIL while hashing. The
# pool is bounded, so a login flood queues here instead of taking every core: at most
# HASH_THREADS hashes at once (KEFU_PASSWORD_HASH_THREADS, default min(4, cores - 1)).
HASH_THREADS = int(
    os.environ.get("KEFU_PASSWORD_HASH_THREADS") or max(1, min(4, (os.cpu_count() or 2) - 1))
)
_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")


async def hash_password_async(password: str) -> str:
    """``hash_password`` off the event loop, in the bounded pool."""
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    """``verify_password`` off the event loop, in the bounded pool."""
    return await asyncio.get_running_loop().run_in_executor(
        _pool, verify_password, password_hash, password
    )


# Verifying against this when the user does not exist keeps the response time the same, so
# timing does not reveal which usernames exist.
DUMMY_HASH = _hasher.hash("kefu-dummy-password-1")
