"""Service-centre reports over generated activity: the full rollup's cost, the incremental
rollup's cost per new event, and each dashboard and builder report's answer time (p50/p99)
read from the rollup — against the same question asked of the raw tables in the same run
(the machine is shared: the ratio is the figure to compare, not the milliseconds).

    .venv/bin/python benchmarks/reports_bench.py --conversations 100000 --messages-per 10
    .venv/bin/python benchmarks/reports_bench.py --database-url postgresql://kefu:kefu@127.0.0.1/db
    (add --search to index the messages and time conversation search too)

Rows are generated in memory (kefu.reports.demo.generate) and written with executemany
(SQLite, Core rather than the ORM's bulk path) or COPY (PostgreSQL: conversations and
messages). A year over 31 days is read from
the daily rollup (kefu.reports.daily).

The PostgreSQL database is emptied first (DROP SCHEMA public CASCADE).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.config import normalise_database_url
from kefu.conversations.models import Conversation, Message
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade
from kefu.reports import dashboards, kpis, service
from kefu.reports.builder import ReportSpec
from kefu.reports.demo import generate
from kefu.reports.rollup import rollup
from kefu.reports.settings import ReportsSettings

ZONE = ZoneInfo("Asia/Shanghai")
CFG = ReportsSettings()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def timed(runs: int, work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), pct(samples, 0.99)


async def reset_postgres(url: str) -> None:
    import asyncpg

    dsn = normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def copy_rows(session: AsyncSession, model: type, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY for the big tables (conversations, messages: no JSON to encode);
    executemany for the rest. Rows are built in memory by kefu.reports.demo.generate."""
    if model not in (Conversation, Message):
        await core_rows(session, model, rows)
        return
    columns = list(rows[0])
    raw = await (await session.connection()).get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        model.__tablename__, records=[tuple(r[c] for c in columns) for r in rows], columns=columns
    )


async def core_rows(session: AsyncSession, model: type, rows: list[dict[str, Any]]) -> None:
    """One Core executemany on the table (the ORM's bulk path costs more per row)."""
    await session.execute(insert(model.__table__), rows)


async def search_p99(db: AsyncSession, runs: int, backend: str) -> None:
    """Indexes the messages (timed) and times searches of the demo's words."""
    from kefu.conversations import search

    t = time.perf_counter()
    indexed = await search.catch_up(db, lag_seconds=0, limit=10**9)
    await db.commit()
    took = time.perf_counter() - t
    print(f"[{backend}] search index: {indexed} messages in {took:.1f} s")
    words = ["账单", "信用卡 丢了", "理财产品 收益", "不满意", "谢谢"]
    samples = []
    for n in range(runs):
        t = time.perf_counter()
        await search.search(db, words[n % len(words)], search.Filters())
        samples.append((time.perf_counter() - t) * 1000)
    print(f"[{backend}] search p50 {statistics.median(samples):.1f} ms, "
          f"p99 {pct(samples, 0.99):.1f} ms over {indexed} messages")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'reports.db'}"
    if url.startswith("postgresql"):
        await reset_postgres(url)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    days = args.days
    per_day = max(1, args.conversations // days)
    today = datetime.now(ZONE).date()
    async with maker() as db:
        await db.execute(insert(Agent), [
            {"username": f"a{i}", "display_name": f"坐席{i}", "role": "agent", "password_hash": "x",
             "is_active": True, "presence": "offline", "failed_logins": 0,
             "created_at": datetime.now(UTC)} for i in range(args.agents)
        ])  # fmt: skip
        t = time.perf_counter()
        messages = await generate(db, first_day=today - timedelta(days=days), days=days,
                                  per_day=per_day, zone=ZONE, messages_per=args.messages_per,
                                  write=copy_rows if backend == "postgresql" else core_rows)  # fmt: skip
        await db.commit()
        gen = time.perf_counter() - t
        conversations = await db.scalar(select(func.count()).select_from(Conversation))
        print(f"[{backend}] generated {conversations} conversations, {messages} messages over "
              f"{days} days in {gen:.1f} s")  # fmt: skip

        t = time.perf_counter()
        full = await rollup(db, now=datetime.now(UTC))
        await db.commit()
        took = time.perf_counter() - t
        print(f"[{backend}] full rollup: {full.hours} hours, {full.rows} KPI rows in {took:.1f} s "
              f"({took / (conversations + messages) * 1e6:.1f} µs per conversation or message)")  # fmt: skip

        # Incremental: new messages in today's open conversations, then one rollup round.
        recent = (await db.scalars(select(Conversation.id).order_by(Conversation.id.desc())
                                   .limit(200))).all()  # fmt: skip
        now = datetime.now(UTC)
        await db.execute(insert(Message), [
            {"conversation_id": cid, "channel": "wechat", "direction": "in", "sender_type": "customer",
             "body": "还在吗", "delivery_state": "received", "created_at": now}
            for cid in recent for _ in range(5)
        ])  # fmt: skip
        await db.commit()
        t = time.perf_counter()
        inc = await rollup(db, now=now)
        await db.commit()
        took = time.perf_counter() - t
        print(
            f"[{backend}] incremental round after 1000 new messages: {inc.hours} hours "
            f"re-rolled in {took * 1000:.0f} ms ({took * 1e6 / 1000:.0f} µs per event)"
        )
        t = time.perf_counter()
        await rollup(db, now=now)
        await db.commit()
        print(f"[{backend}] idle round (nothing new): {(time.perf_counter() - t) * 1000:.0f} ms")

        year = ReportSpec(measures=["conversations", "aht", "sla", "containment"],
                          dimensions=["month", "channel"], start=today - timedelta(days=364),
                          end=today)  # fmt: skip
        month_agents = ReportSpec(measures=["handled", "aht", "first_response"],
                                  dimensions=["day", "agent"], start=today - timedelta(days=29),
                                  end=today)  # fmt: skip
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "head of service (/reports)": lambda: dashboards.overview(
                db, today=today, settings=CFG, zone=ZONE),
            "supervisor live (/reports/live)": lambda: dashboards.live(
                db, today=today, now=datetime.now(UTC), settings=CFG, zone=ZONE),
            "agent's own (/reports/me)": lambda: dashboards.own(
                db, 1, today=today, settings=CFG, zone=ZONE),
            "builder: a year by month × channel": lambda: service.table(
                db, year, settings=CFG, zone=ZONE, translate=str, row_cap=5000),
            "builder: 30 days by day × agent": lambda: service.table(
                db, month_agents, settings=CFG, zone=ZONE, translate=str, row_cap=5000),
            "agent KPI sheet (a month)": lambda: service.agent_sheet(
                db, f"{today:%Y-%m}", settings=CFG, zone=ZONE, translate=str),
        }  # fmt: skip
        start = datetime.combine(today - timedelta(days=364), datetime.min.time(), ZONE)

        async def raw_year() -> object:
            # The baseline: the same year's conversations by channel counted from the table.
            return (await db.execute(
                select(Conversation.channel, func.count())
                .where(Conversation.created_at >= start).group_by(Conversation.channel)
            )).all()  # fmt: skip

        base50, base99 = await timed(args.runs, raw_year)
        print(f"[{backend}] baseline, raw count of a year by channel: p50 {base50:.1f} ms, "
              f"p99 {base99:.1f} ms")  # fmt: skip
        for name, work in cases.items():
            p50, p99 = await timed(args.runs, work)
            print(f"[{backend}] {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                  f"({p50 / base50:.2f}× the raw baseline)")  # fmt: skip
        rows = await db.scalar(select(func.count()).select_from(kpis.KpiHourly))
        days_rows = await db.scalar(select(func.count()).select_from(kpis.KpiDaily))
        print(f"[{backend}] kpi_hourly rows: {rows}, kpi_daily rows: {days_rows}")
        if args.search:
            await search_p99(db, args.runs, backend)
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--messages-per", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--search", action="store_true", help="also index and time search")
    asyncio.run(main(parser.parse_args()))
