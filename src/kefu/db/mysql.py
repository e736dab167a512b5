"""What MySQL 8 / MariaDB need to behave like our other two databases (docs/deploy.md).

The migrations and models are written once, in SQLAlchemy's generic types; these compile
rules make the generic types mean on MySQL what they mean on PostgreSQL, so the same migration
files give the same schema semantics:

- ``DateTime`` → ``DATETIME(6)``: MySQL's bare DATETIME drops the microseconds, and rows written
  in the same second would then tie where ordering by time matters (queues, message threads).
- ``Float`` → ``DOUBLE`` (in columns and in CASTs): MySQL's bare FLOAT is 4 bytes;
  PostgreSQL's and SQLite's are 8.

They are registered when this module is imported, which ``kefu.db.engine`` does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    case,
    event,
    func,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import visitors

# Every connection's session is in UTC, so NOW()/CURRENT_TIMESTAMP defaults agree with the UTC
# values the application writes (DATETIME keeps no zone).
INIT_COMMAND = "SET time_zone = '+00:00'"
# PostgreSQL's default, set on each connection even where the server's is REPEATABLE READ
# (docs/deploy.md says why).
ISOLATION_LEVEL = "READ COMMITTED"

# Below MariaDB's and MySQL's default wait_timeout (8 h) and the 1 h idle cut of most
# proxies/firewalls in front of a managed server: a pooled connection is replaced before the
# server may have closed it (pre-ping catches the rest).
POOL_RECYCLE_SECONDS = 1800
DUPLICATE_KEY = 1062  # ER_DUP_ENTRY
LOCK_WAIT_SECONDS = 30


def _escape_bytes(value: bytes, mapping: Any = None) -> str:
    return "_binary X'" + value.hex() + "'"


def _mend_aiomysql() -> None:
    """aiomysql (0.3.2) escapes a bytes parameter with PyMySQL's ``escape_bytes_prefixed``,
    which PyMySQL 1.2 replaced by a string: every query with bytes (an upload, a replay chunk)
    fails with "'str' object is not callable" (aio-libs/aiomysql#1080, open). Until aiomysql
    stops importing it, bytes are escaped here as a hex literal, the form PyMySQL 1.2 writes."""
    try:
        from aiomysql import connection
    except ImportError:  # the driver is optional where MySQL is not used
        return
    if not callable(getattr(connection, "escape_bytes_prefixed", None)):
        connection.escape_bytes_prefixed = _escape_bytes


_mend_aiomysql()


@compiles(DateTime, "mysql")
def _datetime(element: DateTime, compiler: Any, **kw: Any) -> str:
    return "DATETIME(6)"


# mysql.FLOAT too: it is what a generic Float becomes in a CAST (the dialect's own type), and
# MariaDB's CAST(… AS FLOAT) is 4 bytes (297.999994 s became 298.0 in the reports' rollup).
@compiles(Float, "mysql")
@compiles(mysql.FLOAT, "mysql")
def _float(element: Float, compiler: Any, **kw: Any) -> str:
    return "DOUBLE"


class Insert(mysql.Insert):
    """PostgreSQL's and SQLite's upsert spelling (``on_conflict_do_nothing``/``_do_update``,
    ``excluded``) on MySQL, so callers of ``kefu.db.engine.dialect_insert`` write it once.

    MySQL knows no conflict target: a duplicate on *any* unique key of the table is the
    conflict, so ``index_elements`` is not needed (every caller names the table's only natural
    key anyway).
    """

    inherit_cache = True

    @property
    def excluded(self) -> Any:
        return self.inserted

    def on_conflict_do_nothing(self, *args: Any, **kw: Any) -> Insert:
        # INSERT IGNORE skips duplicate rows and, as on PostgreSQL, counts and returns only
        # the inserted ones; it would also turn other errors into warnings, which
        # _refuse_ignored_errors below turns back into errors.
        return self.prefix_with("IGNORE")

    def on_conflict_do_update(
        self, *args: Any, set_: dict[str, Any] | None = None, where: Any = None, **kw: Any
    ) -> Insert:
        values = dict(set_ or {})
        if where is not None:
            # No WHERE on MySQL's upsert: each column keeps its value unless ``where`` holds.
            # MySQL assigns left to right and later expressions see earlier assignments, so
            # ``where`` must not read a column assigned here (the inserted values are fine).
            # Nor may it hold a bound value when rows are inserted as a batch (aiomysql's
            # batched INSERT takes no parameter after VALUES).
            # (``excluded``'s columns belong to an alias of the table, not to the table.)
            read = {
                c.key
                for c in visitors.iterate(where)
                if isinstance(c, Column) and c.table is self.table
            }
            if read & set(values):
                raise NotImplementedError(
                    "on_conflict_do_update(where=…) reads a column it assigns; MySQL cannot "
                    "express that upsert"
                )
            values = {k: case((where, v), else_=self.table.c[k]) for k, v in values.items()}
        return self.on_duplicate_key_update(values)


def insert(table: Any) -> Insert:
    return Insert(table)


def install(engine: AsyncEngine) -> None:
    """Listeners every MySQL engine of kefu's needs."""
    event.listen(engine.sync_engine, "after_cursor_execute", _refuse_ignored_errors)
    event.listen(engine.sync_engine.pool, "checkin", _release_locks)


def _refuse_ignored_errors(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
    """An ``INSERT IGNORE`` that skipped a row for anything but a duplicate key (a foreign key
    that points nowhere, a NULL or too-long value) fails as it would on PostgreSQL; otherwise
    the row would be lost with a warning nobody reads."""
    if not statement.startswith("INSERT IGNORE"):
        return
    result = getattr(getattr(cursor, "_cursor", None), "_result", None)
    if result is None or not result.warning_count:
        return
    check = conn.connection.dbapi_connection.cursor()
    try:
        check.execute("SHOW WARNINGS")
        problems = [row for row in check.fetchall() if int(row[1]) != DUPLICATE_KEY]
    finally:
        check.close()
    if problems:
        raise IntegrityError(statement, parameters, Exception("; ".join(r[2] for r in problems)))


async def transaction_lock(db: AsyncSession, key: str) -> None:
    """PostgreSQL's ``pg_advisory_xact_lock`` on MySQL: a named lock (``GET_LOCK``) held until
    the session gives its connection back to the pool, which every commit and rollback does
    (``_release_locks``). Waits up to LOCK_WAIT_SECONDS, then fails rather than hang."""
    name = "kefu:" + hashlib.sha1(key.encode()).hexdigest()  # a name is at most 64 characters
    got = (
        await db.execute(
            text("SELECT GET_LOCK(:name, :wait)"), {"name": name, "wait": LOCK_WAIT_SECONDS}
        )
    ).scalar()
    if got != 1:
        raise OperationalError(
            "SELECT GET_LOCK", {"name": name}, Exception(f"lock {key!r} not taken")
        )


def _release_locks(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    # A pooled connection keeps its named locks across transactions: give them all back.
    if dbapi_connection is None:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT RELEASE_ALL_LOCKS()")
    finally:
        cursor.close()


# SQL for times, as the reports group them (their PostgreSQL and SQLite forms sit beside the
# calls). Formats are SQL text, not parameters, so that a GROUP BY expression and the selected
# one are the same to MySQL 8's ONLY_FULL_GROUP_BY.
def date_format(value: Any, pattern: str) -> Any:
    return func.date_format(value, literal_column("'" + pattern + "'"))


def shifted(value: Any, unit: str, amount: int) -> Any:
    """``value`` moved by ``amount`` units (MINUTE, DAY, …)."""
    return func.timestampadd(literal_column(unit), literal_column(str(int(amount))), value)


def monday(value: Any) -> Any:
    """The Monday of ``value``'s week as 'YYYY-MM-DD'."""
    return date_format(func.subdate(value, func.weekday(value)), "%Y-%m-%d")


def seconds_between(later: Any, earlier: Any) -> Any:
    # Divided by a DOUBLE literal (1e6): by 1000000.0, a DECIMAL, MySQL keeps 4 decimals
    # (div_precision_increment) and 297.999994 s became 298.0 where PostgreSQL and Python
    # have the microseconds.
    return func.timestampdiff(literal_column("MICROSECOND"), earlier, later) / literal_column("1e6")


def _update_returning(state: ORMExecuteState) -> Any:
    """``UPDATE … RETURNING`` on MariaDB, which has RETURNING for INSERT and DELETE only.
    kefu claims rows with it (a code used once, a slot's last seat, an outbox row): here the
    matching rows are locked and read (``SELECT … FOR UPDATE``, the same WHERE), updated by
    primary key, and the returned columns read back in the same transaction. Under the row
    locks no other transaction can change them in between, so it claims exactly what the one
    statement would."""
    stmt = state.statement
    if not state.is_update or not getattr(stmt, "_returning", None):
        return None
    session = state.session
    if session.get_bind().dialect.name != "mysql":
        return None
    table = stmt.table
    pk = list(table.primary_key.columns)
    keys = session.execute(
        select(*pk).where(stmt.whereclause).with_for_update(), state.parameters
    ).all()
    if len(pk) == 1:
        match = pk[0].in_([k[0] for k in keys])
    else:
        match = tuple_(*pk).in_([tuple(k) for k in keys])
    if keys:
        plain = stmt._clone()  # noqa: SLF001 - the same UPDATE without its RETURNING
        plain._returning = ()  # noqa: SLF001
        session.execute(plain.where(match), state.parameters)
    return session.execute(select(*stmt._returning).where(match))  # noqa: SLF001


event.listen(Session, "do_orm_execute", _update_returning)
