"""A backfill of the search index on several processes (``kefu quality reindex``).

``search.index_new`` segments on one core (jieba: ~400–900 messages/s on the shared machine),
which is fine behind live traffic but would take hours over years of imported messages. Here
worker processes (``ProcessPoolExecutor``) segment and the parent writes the postings and the
per-word counts, a batch at a time as each comes back while the workers go on with the next.

It moves the same cursor as ``index_new`` and holds the same lock while it writes a round, so
it can run while the app's quality worker indexes: they take turns, and a message is indexed
once (the cursor moves in the round's transaction). Stopped at any time, it resumes from the
cursor: the last round committed is the last indexed message.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.conversations import search
from kefu.conversations.models import Message
from kefu.db.base import utcnow

SQLITE_PAUSE = 0.15  # seconds between rounds on SQLite (a round is ~1–2 s of segmentation)


def _warm() -> None:
    """Loads jieba's dictionary once per worker (seconds), not in the first batch's time."""
    search.words("信用卡", for_index=True)


def _segment(rows: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return search._tokens(rows)


def make_pool(processes: int) -> ProcessPoolExecutor:
    # spawn, not fork: the parent runs an event loop with open database connections.
    return ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("spawn"), initializer=_warm
    )


@dataclass
class Progress:
    indexed: int
    last_message_id: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.indexed / self.seconds if self.seconds else 0.0


async def _round(
    db: AsyncSession, pool: ProcessPoolExecutor, *, size: int, batch: int, lag_seconds: float
) -> tuple[int, int]:
    """One round in one transaction: up to ``size`` messages after the cursor, segmented
    in ``batch``-sized pieces by the pool, written in order. Returns (messages, last id)."""
    cursor = await search.lock_cursor(db)
    before = utcnow() - timedelta(seconds=lag_seconds)
    rows = [
        (mid, body or "")
        for mid, body in (
            await db.execute(
                select(Message.id, Message.body)
                .where(Message.id > cursor.last_message_id, Message.created_at <= before)
                .order_by(Message.id)
                .limit(size)
            )
        ).all()
    ]
    if not rows:
        return 0, cursor.last_message_id
    loop = asyncio.get_running_loop()
    pieces = [
        loop.run_in_executor(pool, _segment, rows[i : i + batch])
        for i in range(0, len(rows), batch)
    ]
    try:
        for piece in pieces:  # in order; the workers go on with the others meanwhile
            await search.write_postings(db, await piece)
    finally:
        for piece in pieces:  # a failed write: let nothing run on into a closed session
            piece.cancel()
    cursor.last_message_id = rows[-1][0]
    await db.flush()
    return len(rows), cursor.last_message_id


async def reindex(
    maker: async_sessionmaker[AsyncSession],
    pool: ProcessPoolExecutor,
    *,
    processes: int,
    batch: int = 500,
    limit: int | None = None,
    lag_seconds: float = search.LAG,
    progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Indexes messages after the cursor until none is left (or ``limit``), a round of
    ``2 × processes`` batches per transaction (each worker has one batch running and one
    waiting, and the cursor lock is held for about two batches' segmentation)."""
    started = time.perf_counter()
    done, last = 0, 0
    size = 2 * processes * batch
    sqlite = maker.kw["bind"].dialect.name == "sqlite"
    while limit is None or done < limit:
        want = size if limit is None else min(size, limit - done)
        async with maker() as db:
            count, last = await _round(db, pool, size=want, batch=batch, lag_seconds=lag_seconds)
            await db.commit()
        if not count:
            break
        done += count
        if progress:
            progress(Progress(done, last, time.perf_counter() - started))
        if sqlite:
            # SQLite's waiting writers poll (no queue as PostgreSQL's lock has): a pause
            # between rounds lets the app's indexer or a search's catch-up in.
            await asyncio.sleep(SQLITE_PAUSE)
    return Progress(done, last, time.perf_counter() - started)
