"""``kefu.db.engine.dialect_insert``'s upserts and the type rules behave alike on every backend
(on MySQL/MariaDB through ``kefu.db.mysql``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import Boolean, Column, ForeignKey, Integer, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from kefu.db.base import UTCDateTime
from kefu.db.engine import dialect_insert, make_engine, make_sessionmaker

pytestmark = [pytest.mark.db, pytest.mark.asyncio]

meta = MetaData()
parent = Table("t_parent", meta, Column("id", Integer, primary_key=True))
child = Table(
    "t_child",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(40), nullable=False, unique=True),
    Column("parent_id", ForeignKey("t_parent.id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("exact", Boolean, nullable=False, default=False),
    Column("at", UTCDateTime(), nullable=True),
)


async def _session(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
        await conn.execute(parent.insert().values(id=1))
    return engine, make_sessionmaker(engine)


async def test_do_nothing_skips_duplicates_and_returns_only_new_rows(empty_db_url: str) -> None:
    engine, sessions = await _session(empty_db_url)
    try:
        async with sessions() as db, db.begin():
            rows = [{"key": "a", "parent_id": 1, "n": 1}, {"key": "b", "parent_id": 1, "n": 2}]
            await db.execute(dialect_insert(db, child).on_conflict_do_nothing(), rows)
            again = await db.execute(
                dialect_insert(db, child)
                .values(key="a", parent_id=1, n=9)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(child.c.id)
            )
            assert again.all() == []
            fresh = await db.execute(
                dialect_insert(db, child)
                .values(key="c", parent_id=1, n=3)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            assert fresh.rowcount == 1
            got = (await db.execute(select(child.c.key, child.c.n).order_by(child.c.key))).all()
            assert [tuple(r) for r in got] == [("a", 1), ("b", 2), ("c", 3)]
    finally:
        await engine.dispose()


async def test_do_nothing_still_refuses_what_is_not_a_duplicate(empty_db_url: str) -> None:
    # MySQL's INSERT IGNORE would store nothing and warn; it must fail as PostgreSQL does.
    engine, sessions = await _session(empty_db_url)
    try:
        with pytest.raises(IntegrityError):
            async with sessions() as db, db.begin():
                await db.execute(
                    dialect_insert(db, child)
                    .values(key="x", parent_id=404, n=1)
                    .on_conflict_do_nothing()
                )
        async with sessions() as db:
            assert (await db.execute(select(child.c.id))).all() == []
    finally:
        await engine.dispose()


async def test_do_update_with_a_condition_on_the_new_row(empty_db_url: str) -> None:
    engine, sessions = await _session(empty_db_url)
    try:
        async with sessions() as db, db.begin():
            await db.execute(child.insert().values(key="a", parent_id=1, n=1, exact=True))
            await db.execute(child.insert().values(key="b", parent_id=1, n=1, exact=True))
            insert = dialect_insert(db, child)
            upsert = insert.on_conflict_do_update(
                index_elements=["key"],
                set_={"n": insert.excluded.n, "exact": insert.excluded.exact},
                # As kefu.channels.sms.store does: no bound value here (aiomysql's batched
                # INSERT cannot take parameters after VALUES).
                where=insert.excluded.exact,
            )
            await db.execute(
                upsert,
                [{"key": "a", "parent_id": 1, "n": 5, "exact": True},
                 {"key": "b", "parent_id": 1, "n": 6, "exact": False},
                 {"key": "c", "parent_id": 1, "n": 7, "exact": False}],
            )  # fmt: skip
            got = (await db.execute(select(child.c.key, child.c.n).order_by(child.c.key))).all()
            assert [tuple(r) for r in got] == [("a", 5), ("b", 1), ("c", 7)]
    finally:
        await engine.dispose()


async def test_times_keep_their_microseconds_and_zone(empty_db_url: str) -> None:
    # MySQL's bare DATETIME would drop the fraction (kefu.db.mysql renders DATETIME(6)).
    engine, sessions = await _session(empty_db_url)
    at = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)
    try:
        async with sessions() as db, db.begin():
            await db.execute(child.insert().values(key="t", parent_id=1, n=1, at=at))
        async with sessions() as db:
            assert (await db.execute(select(child.c.at))).scalar_one() == at
    finally:
        await engine.dispose()


async def test_text_is_compared_exactly(empty_db_url: str) -> None:
    # A case- or accent-insensitive collation would make 'A' clash with 'a' (docs/deploy.md).
    engine, sessions = await _session(empty_db_url)
    try:
        async with sessions() as db, db.begin():
            for key in ("A", "a", "é", "e"):
                await db.execute(child.insert().values(key=key, parent_id=1, n=1))
        async with sessions() as db:
            assert (await db.execute(select(child.c.id).where(child.c.key == "a"))).all()
            assert len((await db.execute(select(child.c.id))).all()) == 4
    finally:
        await engine.dispose()


async def test_update_returning_claims_each_row_once(empty_db_url: str) -> None:
    # MariaDB has no UPDATE … RETURNING; kefu.db.mysql emulates it under row locks. Parallel
    # claimers of the last "seat" (n < 2): exactly one gets it, as with the one statement.
    engine, sessions = await _session(empty_db_url)
    try:
        async with sessions() as db, db.begin():
            await db.execute(child.insert().values(key="seat", parent_id=1, n=1))

        async def claim() -> int | None:
            async with sessions() as db, db.begin():
                return (
                    await db.execute(
                        update(child)
                        .where(child.c.key == "seat", child.c.n < 2)
                        .values(n=child.c.n + 1)
                        .returning(child.c.n)
                    )
                ).scalar_one_or_none()

        got = []
        for _ in range(3):  # SQLite has one writer: in turn there, in parallel elsewhere
            got.extend(await asyncio.gather(claim(), claim()))
        assert sorted(got, key=lambda v: v or 0) == [None] * 5 + [2]
        async with sessions() as db:
            assert (await db.execute(select(child.c.n))).scalar_one() == 2
    finally:
        await engine.dispose()
