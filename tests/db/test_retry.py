"""``kefu.db.retry``: a real deadlock between two transactions is told apart from other errors
and the losing transaction runs again, on every backend that can deadlock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from kefu.db.engine import make_engine
from kefu.db.retry import is_transient, retry_transaction

pytestmark = [pytest.mark.db, pytest.mark.asyncio]

meta = MetaData()
probe = Table("t_retry_probe", meta, Column("id", Integer, primary_key=True), Column("n", Integer))


async def test_the_deadlock_loser_runs_again(empty_db_url: str) -> None:
    if empty_db_url.startswith("sqlite"):
        # SQLite locks the whole database for a writer: two writers wait, never deadlock.
        pytest.skip("SQLite cannot deadlock (one writer at a time)")
    engine = make_engine(empty_db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
            await conn.execute(probe.insert(), [{"id": 1, "n": 0}, {"id": 2, "n": 0}])
        locked = {1: asyncio.Event(), 2: asyncio.Event()}
        attempts: list[int] = []
        errors: list[BaseException] = []

        async def one_side(first: int, second: int) -> None:
            attempts.append(first)
            try:
                async with engine.begin() as conn:
                    await conn.execute(
                        update(probe).where(probe.c.id == first).values(n=probe.c.n + 1)
                    )
                    locked[first].set()
                    await locked[second].wait()  # both hold a row: each now wants the other's
                    await conn.execute(
                        update(probe).where(probe.c.id == second).values(n=probe.c.n + 1)
                    )
            except DBAPIError as error:
                errors.append(error)
                raise

        await asyncio.wait_for(
            asyncio.gather(
                retry_transaction(lambda: one_side(1, 2)), retry_transaction(lambda: one_side(2, 1))
            ),
            timeout=120,  # a ceiling against a hang, not a timing
        )
        assert len(errors) == 1 and is_transient(errors[0])
        assert len(attempts) == 3  # the loser ran twice
        async with engine.connect() as conn:
            rows = dict((await conn.execute(select(probe.c.id, probe.c.n))).all())
        assert rows == {1: 2, 2: 2}  # both transactions' updates, each once
    finally:
        await engine.dispose()


async def test_other_errors_are_not_retried(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
            await conn.execute(probe.insert().values(id=1, n=0))
        runs: list[int] = []

        async def duplicate() -> None:
            runs.append(1)
            async with engine.begin() as conn:
                await conn.execute(probe.insert().values(id=1, n=0))

        with pytest.raises(IntegrityError) as caught:
            await retry_transaction(duplicate)
        assert runs == [1]
        assert not is_transient(caught.value)
        assert not is_transient(ValueError("x"))
    finally:
        await engine.dispose()
