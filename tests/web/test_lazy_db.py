"""kefu.web.lazy_db: a request's session opened on first use, ended as session_scope ends one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.replica import ReadRouting
from kefu.web.lazy_db import lazy_session


class Counting:
    def __init__(self, maker) -> None:  # type: ignore[no-untyped-def]
        self.maker, self.opened = maker, 0

    def __call__(self):  # type: ignore[no-untyped-def]
        self.opened += 1
        return self.maker()


def _request(**state) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(**state)))


def test_opened_on_first_use_committed_or_rolled_back(tmp_path: Path) -> None:
    async def go() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'lazy.db'}")
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            maker = Counting(make_sessionmaker(engine))
            request = _request(sessionmaker=maker, reads=None)
            async with lazy_session(request) as db:  # type: ignore[arg-type]
                await db.commit()  # nothing to commit: no session for it
            assert maker.opened == 0
            async with lazy_session(request) as db:  # type: ignore[arg-type]
                await db.execute(text("INSERT INTO t VALUES (1)"))
            assert maker.opened == 1  # once, however often it is used
            with pytest.raises(RuntimeError):
                async with lazy_session(request) as db:  # type: ignore[arg-type]
                    await db.execute(text("INSERT INTO t VALUES (2)"))
                    raise RuntimeError("the request failed")
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT x FROM t"))).scalars().all()
            assert rows == [1]  # the first committed on leaving, the failed one rolled back
            assert engine.pool.checkedout() == 0  # both closed
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_with_read_routing_it_opens_on_the_primary_and_counts_a_primary_write(
    tmp_path: Path,
) -> None:
    counted: list[str] = []
    counter = SimpleNamespace(
        labels=lambda where: SimpleNamespace(inc=lambda: counted.append(where))
    )

    async def go() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}")
        try:
            primary = Counting(make_sessionmaker(engine))
            unused = Counting(make_sessionmaker(engine))
            reads = SimpleNamespace(primary=primary, reads=counter)
            # The routing's own method, on the stand-in's primary and counter.
            reads.write_session = lambda: ReadRouting.write_session(reads)  # type: ignore[arg-type]
            request = _request(sessionmaker=unused, reads=reads)
            async with lazy_session(request) as db:  # type: ignore[arg-type]
                assert (await db.execute(text("SELECT 1"))).scalar() == 1
            assert (primary.opened, unused.opened, counted) == (1, 0, ["primary_write"])
            async with lazy_session(request):  # type: ignore[arg-type]
                pass
            assert counted == ["primary_write"]  # not counted when never opened
        finally:
            await engine.dispose()

    asyncio.run(go())
