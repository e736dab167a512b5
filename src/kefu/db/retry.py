"""A transaction the database chose to abort, run again.

InnoDB (MariaDB, MySQL) resolves a deadlock by rolling back one side's *whole* transaction
(error 1213) — unlike PostgreSQL, which fails only the statement, so a savepoint that catches a
unique-key race there does not help here — and gives up a row lock after
``innodb_lock_wait_timeout`` (1205). PostgreSQL reports its own deadlocks (40P01) and, under
SERIALIZABLE, serialization failures (40001). In every case the transaction did nothing and may
simply run again; this module tells those errors apart and runs the work again a few times.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

MYSQL_CODES = frozenset({1213, 1205})  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
ATTEMPTS = 4


def is_transient(error: BaseException) -> bool:
    """True for an error after which the database rolled the transaction back and running it
    again may succeed (a deadlock, a lock wait that timed out, a serialization failure)."""
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in SQLSTATES:
        return True
    args = getattr(orig, "args", ())
    return bool(args) and isinstance(args[0], int) and args[0] in MYSQL_CODES


async def retry_transaction(work: Callable[[], Awaitable[T]], *, attempts: int = ATTEMPTS) -> T:
    """``await work()``, again when it fails with a transient error (``is_transient``), up to
    ``attempts`` times in all. ``work`` must be the whole transaction — open its session,
    write, commit — since the database rolled all of it back; a short random pause lets the
    other side finish first."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as error:
            if attempt == attempts or not is_transient(error):
                raise
        await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 - not a secret
    raise AssertionError("unreachable")
