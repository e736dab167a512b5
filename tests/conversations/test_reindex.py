"""The parallel backfill (``kefu quality reindex``): the postings and counts it writes are those
``index_new`` writes; run at the same time as ``index_new`` no message is indexed twice (the
counts would then exceed the postings) and none is skipped; it resumes from the cursor."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from kefu.conversations import reindex, search
from kefu.conversations.models import Message
from kefu.quality.models import SearchCursor, SearchToken
from tests.conversations.test_search_plan import TEXTS, counts_agree
from tests.quality.conftest import conversation

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def pool():  # type: ignore[no-untyped-def]
    with reindex.make_pool(2) as pool:
        pool.submit(reindex._warm).result()  # started before any timing of the tests
        yield pool


async def _messages(db, copies: int) -> None:  # type: ignore[no-untyped-def]
    for n in range(copies):
        await conversation(db, [(s, f"{t}（{n}号）") for s, t in TEXTS], contact=f"1390000{n:04d}")
    await db.commit()


async def _all_indexed_once(db) -> None:  # type: ignore[no-untyped-def]
    """Every message's words are its postings, exactly, and the counts equal the postings."""
    held: dict[int, set[str]] = {}
    for mid, token in (await db.execute(select(SearchToken.message_id, SearchToken.token))).all():
        held.setdefault(mid, set()).add(token)
    for mid, body in (await db.execute(select(Message.id, Message.body))).all():
        assert held.get(mid, set()) == set(search.words(body, for_index=True)), mid
    await counts_agree(db)
    top = await db.scalar(select(func.max(Message.id)))
    assert await db.scalar(select(SearchCursor.last_message_id)) == top


def test_reindex_alongside_index_new(sessions, run, pool) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with sessions() as db:
            await _messages(db, 30)  # 330 messages
        search.words("预热", for_index=True)  # the parent's dictionary too
        by_app = 0
        started = asyncio.Event()

        async def app_indexer() -> None:  # the quality worker's loop, small batches
            nonlocal by_app
            while True:
                async with sessions() as db:
                    done = await search.index_new(db, batch=5, lag_seconds=0)
                    await db.commit()
                started.set()
                if not done:
                    return
                by_app += done
                await asyncio.sleep(0.01)

        seen: list[reindex.Progress] = []

        async def backfill() -> reindex.Progress:
            await started.wait()  # the app has indexed a batch: they overlap from there
            return await reindex.reindex(sessions, pool, processes=2, batch=7, lag_seconds=0,
                                         progress=seen.append)  # fmt: skip

        _, result = await asyncio.gather(app_indexer(), backfill())
        assert result.indexed > 0 and by_app > 0  # both took turns
        assert result.indexed + by_app == 330  # none twice, none skipped
        assert [p.indexed for p in seen] == sorted(p.indexed for p in seen)
        async with sessions() as db:
            await _all_indexed_once(db)
            hits, _ = await search.search(db, "境外 盗刷", search.Filters(), page_size=100)
            assert len(hits) == 60

    run(go())


def test_reindex_resumes_from_the_cursor(sessions, run, pool) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with sessions() as db:
            await _messages(db, 4)  # 44 messages
        first = await reindex.reindex(sessions, pool, processes=2, batch=5, limit=13,
                                      lag_seconds=0)  # fmt: skip
        assert first.indexed == 13
        async with sessions() as db:
            assert await db.scalar(select(SearchCursor.last_message_id)) == first.last_message_id
            assert await db.scalar(
                select(func.count(func.distinct(SearchToken.message_id)))
            ) == 13  # fmt: skip
        rest = await reindex.reindex(sessions, pool, processes=2, batch=5, lag_seconds=0)
        assert rest.indexed == 31
        again = await reindex.reindex(sessions, pool, processes=2, batch=5, lag_seconds=0)
        assert again.indexed == 0
        async with sessions() as db:
            await _all_indexed_once(db)

    run(go())


def test_cli(db_url: str, sessions, run) -> None:  # type: ignore[no-untyped-def]
    from kefu.cli import app

    async def fill() -> None:
        async with sessions() as db:
            await _messages(db, 2)

    run(fill())
    out = CliRunner().invoke(
        app, ["quality", "reindex", "--processes", "2", "--batch", "5", "--database-url", db_url]
    )
    assert out.exit_code == 0, out.output
    assert "done: 22 messages" in out.output and "indexed 20 messages" in out.output

    async def check() -> None:
        async with sessions() as db:
            await _all_indexed_once(db)

    run(check())
    bad = CliRunner().invoke(app, ["quality", "reindex", "--processes", "0"])
    assert bad.exit_code != 0
