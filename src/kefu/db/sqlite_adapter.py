"""SQLite for asyncio with one trip to the connection's thread per statement.

SQLAlchemy's ``sqlite+aiosqlite`` dialect (2.1.x, ``connectors/asyncio.py``
``AsyncAdapt_dbapi_cursor``) makes three or four trips to aiosqlite's worker thread for each
statement: create the cursor, execute, fetch all rows (when the statement returns any), close
the cursor. Each trip is a queue hand-off to the thread and an event-loop wake-up when the
thread answers, and on the SMS send path they were the largest remaining cost (issue #24,
docs/channels/sms.md). Here a statement is one function run in that thread — cursor, execute or
executemany, fetchall when there is a description, the cursor's ``rowcount``/``lastrowid``
read, close — and its results are kept on our cursor object, as the stock adapter keeps its
buffered rows. ``commit``/``rollback`` are already one trip each in the stock adapter and stay
its code, but a commit or rollback with no transaction open (the pool's reset after a
read-only checkout, a read-only session's commit) makes no trip: see :class:`OneHopConnection`.

Registered as ``sqlite+kefu_aiosqlite``; :func:`kefu.db.engine.make_engine` picks it for
every SQLite URL when ``KEFU_SQLITE_ADAPTER=hop``. The default, ``aiosqlite``, is still the
stock dialect: the CPU saving has yet to be shown on a quiet machine (docs/channels/sms.md,
"one hop per SQLite statement"). Everything else is the stock dialect's: connecting (aiosqlite's thread per
connection), the connect-event PRAGMAs, the isolation-level setter, ``create_function``,
terminate, server-side cursors (``stream()``/``yield_per``: the stock cursor, unchanged), the
exception classes and their mapping (errors are raised in the thread by ``sqlite3`` and cross
unchanged, as before; aiosqlite's "no active connection"/"Connection closed" ``ValueError``
still becomes ``OperationalError`` and a disconnect).

Why on aiosqlite and not our own thread: our own adapter (the sync ``sqlite3`` connection in
one dedicated thread behind our own queue) would make the same trips — a queue put and a
``call_soon_threadsafe`` wake-up are the whole mechanism in aiosqlite too — so it would save
nothing per statement, and it would have to re-implement what SQLAlchemy's aiosqlite dialect
already gets right (connect errors, close, terminate of an invalidated connection, the
isolation-level setter, server-side cursors). What we use of aiosqlite's internals is small:
``Connection._execute(fn, *args)`` (queue ``fn`` for the connection's thread and await its
result) and ``Connection._conn`` (the ``sqlite3.Connection``, raising ``ValueError`` when
closed). Both are private, so pyproject.toml pins aiosqlite to the range this was tested with
(0.22.x) and ``tests/db/test_sqlite_adapter.py`` fails loudly if either changes or a statement
stops being one trip.

No ``_execute_mutex``: the stock adapter holds it so that another task's statement cannot run
between its execute and fetchall trips on a shared connection; a one-trip statement cannot be
split, and aiosqlite's queue runs a connection's calls in order.
"""

from __future__ import annotations

import collections
import os
import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "kefu_aiosqlite"
#: ``KEFU_SQLITE_ADAPTER``: ``hop`` (this module) or ``aiosqlite`` (the stock dialect).
ADAPTER_ENV = "KEFU_SQLITE_ADAPTER"
ADAPTERS = ("hop", "aiosqlite")
DEFAULT_ADAPTER = "aiosqlite"

_Result = tuple[Any, Sequence[Any], int, "int | None", bool]


def chosen_adapter() -> str:
    """The SQLite adapter named by ``KEFU_SQLITE_ADAPTER`` (refusing a misspelt one)."""
    value = os.environ.get(ADAPTER_ENV, "").strip().lower() or DEFAULT_ADAPTER
    if value not in ADAPTERS:
        raise ValueError(f"{ADAPTER_ENV} must be one of {', '.join(ADAPTERS)} (got {value!r})")
    return value


def _run_statement(aconn: Any, operation: Any, parameters: Any, many: bool) -> _Result:
    """One statement, whole, in the connection's thread (the only function that touches the
    ``sqlite3`` objects): nothing of the cursor outlives the call."""
    conn: sqlite3.Connection = aconn._conn  # ValueError("no active connection") when closed
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        # Read after fetchall, as the stock adapter does (RETURNING's rowcount counts then).
        return description, rows, cursor.rowcount, cursor.lastrowid, conn.in_transaction
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement is one trip; rows are buffered like the stock
    cursor's (which fetches them all at execute too)."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor is made here (the stock __init__'s first trip).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:  # type: ignore[override]
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in the statement's trip."""

    def close(self) -> None:
        self._rows.clear()

    def _run(self, operation: Any, parameters: Any, many: bool) -> OneHopCursor:
        adapted: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        adapted._in_transaction = None  # unknown until the trip answers (or if it never does)
        try:
            result = await_(
                self._connection._execute(
                    _run_statement, self._connection, operation, parameters, many
                )
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid, in_tx = result
        adapted._in_transaction = in_tx
        self._rows = collections.deque(rows)
        return self

    def execute(self, operation: Any, parameters: Any = None) -> OneHopCursor:
        return self._run(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> OneHopCursor:
        return self._run(operation, seq_of_parameters, True)

    def nextset(self) -> None:
        return None  # sqlite3 has one result set per statement

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None  # a no-op in sqlite3 too


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Also skips the trip of a commit or rollback with no transaction open: sqlite3's own
    ``commit()``/``rollback()`` do nothing then (the legacy transaction control SQLAlchemy uses),
    and the pool's reset-on-return rollback after a read-only checkout was a third of all
    trips. Whether a transaction is open is read in the thread at the end of each of our
    statements (``sqlite3.Connection.in_transaction``), never from the event loop; anything
    this class does not see (a server-side cursor's statements, a statement whose caller was
    cancelled, a failed one, an isolation-level change) makes it unknown, and unknown means
    the trip is made, as before."""

    __slots__ = ("_in_transaction",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._in_transaction: bool | None = None

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            self._in_transaction = None  # the stock cursor's statements are not watched
        return super().cursor(server_side)

    @property
    def isolation_level(self) -> str | None:
        return cast("str | None", self._connection.isolation_level)

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._in_transaction = None
        AsyncAdapt_aiosqlite_connection.isolation_level.fset(self, value)  # type: ignore[attr-defined]

    def commit(self) -> None:
        if self._in_transaction is False:
            return
        self._in_transaction = None
        super().commit()
        self._in_transaction = False

    def rollback(self) -> None:
        if self._in_transaction is False:
            return
        self._in_transaction = None
        super().rollback()
        self._in_transaction = False


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        stock = super().connect(*arg, **kw)  # aiosqlite's connection, thread started
        return OneHopConnection(self, stock._connection)


class SQLiteDialect_kefu_aiosqlite(SQLiteDialect_aiosqlite):  # noqa: N801 - SQLAlchemy's naming
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:  # type: ignore[override]
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


dialect = SQLiteDialect_kefu_aiosqlite

registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_kefu_aiosqlite")


def adapt_url(url: str) -> str:
    """``sqlite+aiosqlite://…`` → ``sqlite+kefu_aiosqlite://…`` when this adapter is chosen."""
    if chosen_adapter() == "hop" and url.startswith("sqlite+aiosqlite://"):
        return f"sqlite+{DRIVER}://" + url[len("sqlite+aiosqlite://") :]
    return url
