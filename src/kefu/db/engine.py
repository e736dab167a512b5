"""Engine and session factory, one per database URL per process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import Table, event
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kefu.config import normalise_database_url
from kefu.db import mysql as _mysql  # registers MySQL's type rules before any DDL is compiled
from kefu.db import sqlite_adapter as _sqlite_adapter  # registers sqlite+kefu_aiosqlite


def make_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    url = normalise_database_url(database_url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One trip to SQLite's thread per statement (kefu.db.sqlite_adapter) unless
        # KEFU_SQLITE_ADAPTER says otherwise.
        url = _sqlite_adapter.adapt_url(url)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    if url.startswith("mysql"):
        engine = create_async_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            pool_recycle=_mysql.POOL_RECYCLE_SECONDS,
            isolation_level=_mysql.ISOLATION_LEVEL,
            connect_args={"init_command": _mysql.INIT_COMMAND},
        )
        _mysql.install(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _tune_sqlite(engine: AsyncEngine) -> None:
    # WAL lets the web process read while a seeder or worker writes; foreign keys are off by
    # default in SQLite and we rely on them.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def dialect_insert(db: AsyncSession, table: type | Table) -> PgInsert | SqliteInsert:
    """An INSERT with ``on_conflict_do_nothing``/``on_conflict_do_update`` for the session's
    database: PostgreSQL and SQLite have them under their own dialect's construct; on MySQL
    ``kefu.db.mysql.Insert`` spells them with INSERT IGNORE / ON DUPLICATE KEY UPDATE."""
    name = db.bind.dialect.name
    if name == "mysql":
        return _mysql.insert(table)  # type: ignore[return-value]
    insert = pg_insert if name == "postgresql" else sqlite_insert
    return insert(table)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(
    factory: Callable[[], AbstractAsyncContextManager[AsyncSession]],
) -> AsyncIterator[AsyncSession]:
    """A session that commits on success and rolls back on any error; ``factory`` is a
    sessionmaker or anything opening a session the same way (kefu.db.replica's)."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
