"""Whether an error means "the database cannot be reached now" rather than "a bug".

While PostgreSQL restarts, or a standby is being promoted after the primary died, requests
fail on the way to the database: the connection is refused, the server says it is shutting
down / starting up / in recovery, a pooled connection was cut mid-request, a write reaches a
server that is read-only (a demoted primary, a standby not promoted yet), or the pool has no
connection to give. None of that is the request's fault nor a bug: the caller should come back
in a moment (503 with ``Retry-After``, ``kefu.web.errors``), and the pool's ``pool_pre_ping``
replaces the dead connections on the next request, so nothing needs restarting.

The drivers say it differently. Through SQLAlchemy, a statement's error is a ``DBAPIError``
whose ``orig`` carries the SQLSTATE (asyncpg) or the error number (aiomysql), and whose
``connection_invalidated`` is true when the dialect saw the connection die. On *connect*,
asyncpg's errors are not wrapped: a ``ConnectionRefusedError`` (an ``OSError``), asyncpg's
``CannotConnectNowError`` (57P03) or a ``TimeoutError`` arrive as they are; those are told from
an application's own ``OSError`` by the traceback passing through a database driver.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATEs: class 08 is "connection exception" (08000, 08001, 08003, 08004, 08006, …);
# 57P01 admin_shutdown (pg_ctl stop -m fast), 57P02 crash_shutdown (a sibling crashed),
# 57P03 cannot_connect_now (starting up, shutting down, in recovery), 53300
# too_many_connections, 25006 read_only_sql_transaction (a write on a standby or demoted
# primary).
SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "25006"})
SQLSTATE_CLASSES = ("08",)
# MySQL/MariaDB error numbers: 2003 can't connect, 2006 server has gone away, 2013 lost the
# connection during a query, 1040 too many connections, 1053 server shutdown in progress,
# 1290 running with --read-only, 1792 write in a READ ONLY transaction, 1836 read-only mode.
MYSQL_CODES = frozenset({2003, 2006, 2013, 1040, 1053, 1290, 1792, 1836})
# SQLite: the file cannot be opened (a volume gone) — a locked database is a busy one, 503 too.
SQLITE_MESSAGES = ("unable to open database file", "database is locked")
# Modules whose frames in a traceback mark an OSError/TimeoutError as the database's.
DRIVER_MODULES = ("asyncpg", "aiomysql", "pymysql", "aiosqlite", "sqlalchemy.pool")

RETRY_AFTER_SECONDS = 2  # a restart takes ~1 s, a promotion a few: come back soon, not at once


def _from_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


def _code_says_unavailable(error: BaseException) -> bool:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str) and (state in SQLSTATES or state.startswith(SQLSTATE_CLASSES)):
        return True
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return args[0] in MYSQL_CODES
    if isinstance(error, sqlite3.OperationalError):
        return str(error).startswith(SQLITE_MESSAGES)
    return False


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database could not be reached or went away (see the
    module's docstring); False for everything else, which stays a 500 (or a 422)."""
    if isinstance(error, PoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        orig = error.orig
        if orig is not None and (
            _code_says_unavailable(orig) or _code_says_unavailable(orig.__cause__ or orig)
        ):
            return True
        # A connection the driver found closed (asyncpg's ConnectionDoesNotExistError, an
        # InterfaceError "connection is closed") while SQLAlchemy could not tell it died.
        cause = getattr(orig, "__cause__", None)
        return isinstance(cause, (ConnectionError, TimeoutError)) or _is_asyncpg_gone(cause)
    if _is_asyncpg_gone(error) or (
        type(error).__module__.startswith("asyncpg") and _code_says_unavailable(error)
    ):
        return True
    if isinstance(error, (OSError, TimeoutError)):
        return _from_driver(error.__traceback__)
    return False


def _is_asyncpg_gone(error: BaseException | None) -> bool:
    if error is None:
        return False
    try:
        from asyncpg import exceptions as pg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    # TargetServerAttributeNotMatched: a multi-host URL with target_session_attrs=read-write
    # reached only standbys (the old primary is down, the standby not promoted yet).
    return isinstance(error, (pg.ConnectionDoesNotExistError, pg.PostgresConnectionError,
                              pg.TargetServerAttributeNotMatched))  # fmt: skip
