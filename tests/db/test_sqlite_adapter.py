"""kefu.db.sqlite_adapter: one trip to aiosqlite's thread per statement and per commit, and
the same results, errors and pool behaviour as SQLAlchemy's stock ``sqlite+aiosqlite``."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import aiosqlite.core
import pytest
import sqlalchemy
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_cursor
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from kefu.db import sqlite_adapter
from kefu.db.engine import make_engine, make_sessionmaker

meta = MetaData()
items = Table(
    "items",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("note", String(200), nullable=True),
    Column("blob", LargeBinary, nullable=True),
)


class Trips:
    """Counts aiosqlite's answers to the event loop: one per trip to its thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        set_result, set_exception = aiosqlite.core.set_result, aiosqlite.core.set_exception

        def counted_result(fut: Any, result: Any) -> None:
            self.n += 1
            set_result(fut, result)

        def counted_exception(fut: Any, exc: BaseException) -> None:
            self.n += 1
            set_exception(fut, exc)

        monkeypatch.setattr(aiosqlite.core, "set_result", counted_result)
        monkeypatch.setattr(aiosqlite.core, "set_exception", counted_exception)


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    return Trips(monkeypatch)


async def _engine(path: Path, adapter: str, monkeypatch: pytest.MonkeyPatch) -> AsyncEngine:
    monkeypatch.setenv(sqlite_adapter.ADAPTER_ENV, adapter)
    engine = make_engine(f"sqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    return engine


@pytest.fixture
async def hop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncEngine]:
    engine = await _engine(tmp_path / "hop.db", "hop", monkeypatch)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["hop", "aiosqlite"])
async def either(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncEngine]:
    engine = await _engine(tmp_path / f"{request.param}.db", request.param, monkeypatch)
    yield engine
    await engine.dispose()


def test_the_aiosqlite_internals_it_uses_are_still_there() -> None:
    # If this fails, aiosqlite changed what kefu.db.sqlite_adapter relies on (see its
    # docstring): re-check the adapter against the new version before widening the pin.
    major, minor = (int(x) for x in aiosqlite.__version__.split(".")[:2])
    assert (major, minor) == (0, 22), aiosqlite.__version__
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    assert list(inspect.signature(aiosqlite.Connection._execute).parameters) == [
        "self",
        "fn",
        "args",
        "kwargs",
    ]
    assert isinstance(inspect.getattr_static(aiosqlite.Connection, "_conn"), property)
    assert callable(aiosqlite.core.set_result)  # what the trip counting below wraps
    # …and SQLAlchemy's: the stock cursor's state that OneHopCursor sets up itself.
    assert sqlalchemy.__version__.startswith("2.1."), sqlalchemy.__version__
    slots = set(AsyncAdapt_dbapi_cursor.__slots__)
    assert {
        "_adapt_connection",
        "_connection",
        "_cursor",
        "_rows",
        "_soft_closed_memoized",
    } == slots
    assert inspect.iscoroutinefunction(AsyncAdapt_dbapi_cursor._async_soft_close)


async def test_the_switch_picks_the_dialect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for adapter, driver in (("hop", "kefu_aiosqlite"), ("aiosqlite", "aiosqlite")):
        monkeypatch.setenv(sqlite_adapter.ADAPTER_ENV, adapter)
        engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
        assert (engine.dialect.name, engine.dialect.driver) == ("sqlite", driver)
        await engine.dispose()
    monkeypatch.setenv(sqlite_adapter.ADAPTER_ENV, "fast")
    with pytest.raises(ValueError, match="KEFU_SQLITE_ADAPTER must be one of hop, aiosqlite"):
        make_engine(f"sqlite:///{tmp_path / 'x.db'}")


async def test_a_statement_is_one_trip_and_a_commit_one(hop: AsyncEngine, trips: Trips) -> None:
    async with hop.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's first checkout done

        async def cost(statement: Any, params: Any = None) -> int:
            before = trips.n
            await conn.execute(statement, params)
            return trips.n - before

        assert await cost(select(items)) == 1
        assert await cost(insert(items).values(name="a")) == 1
        assert await cost(insert(items).returning(items.c.id), [{"name": "b"}, {"name": "c"}]) == 1
        assert await cost(insert(items), [{"name": "d"}, {"name": "e"}]) == 1  # executemany
        assert await cost(items.update().values(note="x")) == 1
        with pytest.raises(IntegrityError):
            await cost(insert(items).values(name="a"))
        before = trips.n
        await conn.commit()
        assert trips.n - before == 1
        await conn.execute(items.delete())
        before = trips.n
        await conn.rollback()
        assert trips.n - before == 1
        assert (await conn.execute(select(func.count()).select_from(items))).scalar() == 5


async def _script(engine: AsyncEngine) -> list[Any]:
    """Everything the adapter could answer differently, as plain values."""
    out: list[Any] = []
    async with engine.connect() as conn:
        r = await conn.execute(insert(items).values(name="一", note=None, blob=b"\x00\xff\x00"))
        out += [r.rowcount, r.lastrowid, r.inserted_primary_key]
        r = await conn.execute(
            insert(items).returning(items.c.id, items.c.name, items.c.blob),
            [
                {"name": f"n{i}", "note": "注" if i % 2 else None, "blob": bytes([i])}
                for i in range(5)
            ],
        )
        out.append(sorted(tuple(row) for row in r))
        r = await conn.execute(insert(items), [{"name": "m1"}, {"name": "m2"}])
        out.append(r.rowcount)
        r = await conn.execute(items.update().where(items.c.note.is_(None)).values(note="空"))
        out.append(r.rowcount)
        r = await conn.execute(items.delete().where(items.c.name == "nobody"))
        out.append(r.rowcount)
        r = await conn.execute(select(items).order_by(items.c.id))
        out += [list(r.keys()), [tuple(row) for row in r]]
        r = await conn.execute(text("SELECT NULL AS a, 1.5 AS b, x'' AS c, 'x' AS d"))
        out += [list(r.keys()), r.all()]
        r = await conn.execute(select(items.c.id).where(items.c.id < 0))
        out += [r.all(), list(r.keys())]
        r = await conn.execute(text("SELECT id FROM items ORDER BY id"))
        out += [r.fetchone(), r.fetchmany(2), r.fetchall(), r.fetchone()]
        try:
            await conn.execute(insert(items).values(name="一"))
        except IntegrityError as exc:
            out += [type(exc.orig), str(exc.orig), exc.statement]
        await conn.rollback()
        try:
            await conn.execute(text("SELEKT 1"))
        except OperationalError as exc:
            out += [type(exc.orig), str(exc.orig)]
        await conn.rollback()
        out.append((await conn.execute(select(func.count()).select_from(items))).scalar())
        # server-side cursor (the stock cursor on both)
        streamed = await conn.stream(select(items.c.name).order_by(items.c.id))
        out.append([row.name async for row in streamed])
    return out


async def test_results_errors_and_streams_match_the_stock_dialect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {}
    for adapter in ("aiosqlite", "hop"):
        engine = await _engine(tmp_path / f"{adapter}.db", adapter, monkeypatch)
        try:
            results[adapter] = await _script(engine)
        finally:
            await engine.dispose()
    assert results["hop"] == results["aiosqlite"]
    # and the script did see what it meant to (not two identical failures)
    got = results["hop"]
    assert got[:2] == [1, 1] and got[3][0][2] == b"\x00"
    assert got[4:7] == [2, 6, 0]
    assert sqlite3.IntegrityError in got and "UNIQUE constraint failed: items.name" in got
    assert sqlite3.OperationalError in got
    assert got[-2] == 0  # the rolled-back rows are gone
    assert got[-1] == []


async def test_orm_sessions_on_many_tasks_lose_no_rows(either: AsyncEngine) -> None:
    sessions = make_sessionmaker(either)

    async def writer(task: int) -> None:
        for n in range(10):
            async with sessions() as db:
                await db.execute(insert(items).values(name=f"{task}-{n}"))
                await db.execute(select(items.c.id).where(items.c.name == f"{task}-{n}"))
                await db.commit()

    await asyncio.gather(*(writer(t) for t in range(30)))  # more tasks than the pool holds
    async with sessions() as db:
        names = set((await db.execute(select(items.c.name))).scalars())
    assert names == {f"{t}-{n}" for t in range(30) for n in range(10)}


@pytest.fixture
def write_lock(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    raw = sqlite3.connect(tmp_path / "hop.db", isolation_level=None)
    yield raw
    raw.close()


async def test_cancelling_a_waiting_statement_does_not_wedge_the_engine(
    hop: AsyncEngine, write_lock: sqlite3.Connection
) -> None:
    sessions = make_sessionmaker(hop)
    write_lock.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    async def blocked() -> None:
        async with sessions() as db:
            await db.execute(insert(items).values(name="cancelled"))
            await db.commit()

    task = asyncio.create_task(blocked())
    await asyncio.sleep(0.3)  # the INSERT is now waiting in the thread on the busy timeout
    assert not task.done()
    task.cancel()
    await asyncio.sleep(0.1)
    write_lock.execute("COMMIT")  # the waiting INSERT can run now; its caller is gone
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 60)

    async def after() -> list[str]:
        for n in range(5):
            async with sessions() as db:
                await db.execute(insert(items).values(name=f"after{n}"))
                await db.commit()
        async with sessions() as db:
            return list((await db.execute(select(items.c.name).order_by(items.c.id))).scalars())

    names = await asyncio.wait_for(after(), 60)
    assert names == [f"after{n}" for n in range(5)]  # the cancelled INSERT never committed


async def test_a_closed_connection_is_an_operational_error(hop: AsyncEngine) -> None:
    async with hop.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.close()
        with pytest.raises(OperationalError, match="no active connection|Connection closed"):
            await conn.execute(text("SELECT 1"))
    async with hop.connect() as conn:  # the pool made a new one
        assert (await conn.execute(text("SELECT 2"))).scalar() == 2


async def test_no_trip_for_a_commit_or_rollback_with_nothing_open(
    hop: AsyncEngine, trips: Trips
) -> None:
    sessions = make_sessionmaker(hop)
    async with hop.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool holds a connection now
    before = trips.n
    async with sessions() as db:  # read-only: one SELECT, its commit, the pool's reset
        await db.execute(select(items))
        await db.commit()
    assert trips.n - before == 1

    before = trips.n
    async with sessions() as db:  # a write left uncommitted: the pool's reset rolls it back
        await db.execute(insert(items).values(name="never"))
    assert trips.n - before == 2
    async with sessions() as db:
        assert (await db.execute(select(items.c.name))).all() == []

    before = trips.n
    async with hop.connect() as conn:  # a server-side cursor: not watched, so the trip is made
        streamed = await conn.stream(select(items))
        assert [row async for row in streamed] == []
    assert trips.n - before > 1

    async with hop.connect() as conn:  # AUTOCOMMIT and back: unknown → trips, rows kept
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(insert(items).values(name="auto"))
    async with sessions() as db:
        assert (await db.execute(select(items.c.name))).scalars().all() == ["auto"]
