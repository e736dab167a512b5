"""Call-next latency: 50 open counters, 5,000 waiting tickets, every counter calling in turn
(one after another, then 8 at once on separate connections). Prints p50/p99 in ms and the
tickets claimed, per backend, and on PostgreSQL the candidate query's own execution time. PostgreSQL when KEFU_BENCH_PG names a database (it is wiped).

    .venv/bin/python benchmarks/branch_callnext.py
    KEFU_BENCH_PG=postgresql://kefu:kefu@127.0.0.1:5432/kefu_h6 .venv/bin/python benchmarks/branch_callnext.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import insert

from kefu.branch import queue
from kefu.branch.models import BranchTicket
from kefu.branch.services import SERVICES
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
COUNTERS, TICKETS, CALLS = 50, 5000, 1000
CODES = list(SERVICES)


async def prepare(url: str) -> list[int]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            ids = []
            for i in range(COUNTERS):
                profile = [CODES[i % 5], CODES[(i + 1) % 5]]
                c = await queue.add_counter(db, branch_code="B001", number=i + 1, services=profile)
                await queue.set_counter_state(db, counter_id=c.id, state="open")
                ids.append(c.id)
            day = queue.business_day(NOW)
            await db.execute(insert(BranchTicket), [
                {"branch_code": "B001", "day": day, "service": CODES[i % 5],
                 "label": f"{SERVICES[CODES[i % 5]].letter}{i:04d}"[:8], "priority": i % 4,
                 "priority_kind": "normal", "source": "kiosk", "state": "waiting", "recalls": 0,
                 "issued_at": NOW} for i in range(TICKETS)
            ])  # fmt: skip
    finally:
        await engine.dispose()
    return ids


async def worker(url: str, counters: list[int], calls: int) -> tuple[list[float], list[int]]:
    engine = make_engine(url)
    times, got = [], []
    try:
        factory = make_sessionmaker(engine)
        for k in range(calls):
            start = time.perf_counter()
            while True:
                try:
                    async with factory() as db, db.begin():
                        t = await queue.call_next(
                            db, counter_id=counters[k % len(counters)], now=NOW
                        )
                    break
                except Exception as exc:  # SQLite "database is locked" under contention
                    if "locked" not in str(exc):
                        raise
            times.append((time.perf_counter() - start) * 1000)
            if t is not None:
                got.append(t.id)
    finally:
        await engine.dispose()
    return times, got


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def head_query_ms(url: str) -> float:
    """PostgreSQL's own execution time of call next's candidate query (the head of the cash
    queue), apart from the round trips, locks and commit around it."""
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE branch_tickets"))
            day = queue.business_day(NOW)
            plan = (await conn.execute(text(
                "EXPLAIN ANALYZE SELECT id FROM branch_tickets WHERE branch_code = 'B001' "
                f"AND day = '{day}' AND service = 'cash' AND state = 'waiting' "
                "ORDER BY priority DESC, issued_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ))).all()  # fmt: skip
    finally:
        await engine.dispose()
    line = next(r[0] for r in plan if r[0].startswith("Execution Time"))
    return float(line.split(":")[1].split()[0])


async def run(url: str, name: str) -> None:
    counters = await prepare(url)
    if name == "postgresql":
        print(f"{name} candidate query execution_ms={await head_query_ms(url):.3f}")
    times, got = await worker(url, counters, CALLS)
    print(
        f"{name} sequential: calls={len(times)} p50_ms={pct(times, 50):.1f} p99_ms={pct(times, 99):.1f}"
    )
    parts = await asyncio.gather(*(worker(url, counters[i::8], CALLS // 8) for i in range(8)))
    all_times = [t for p in parts for t in p[0]]
    claimed = [t for p in parts for t in p[1]] + got
    print(f"{name} 8 concurrent: calls={len(all_times)} p50_ms={pct(all_times, 50):.1f} "
          f"p99_ms={pct(all_times, 99):.1f} claimed={len(claimed)} unique={len(set(claimed))}")  # fmt: skip


async def reset_postgres(url: str) -> None:
    import asyncpg

    from kefu.config import normalise_database_url

    dsn = normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        asyncio.run(run(url, "sqlite"))
    pg = os.environ.get("KEFU_BENCH_PG")
    if pg:
        asyncio.run(reset_postgres(pg))
        upgrade(pg)
        asyncio.run(run(pg, "postgresql"))


if __name__ == "__main__":
    main()
