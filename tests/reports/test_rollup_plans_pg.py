"""A rollup span on PostgreSQL reads messages and routing events through index conditions,
never the whole table: at 1 M conversations the sentiment statement merge-joined along the
whole primary key of messages and the routing events were hashed whole, once per span — a
cost that grew with the tables, not the span (docs/reports.md). The PostgreSQL counterpart of
test_rollup_plans.py (SQLite's), with the table statistics of an ANALYZE, as autovacuum keeps
them; every statement of a week's span and of an incremental round is EXPLAINed with the
parameters it ran with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, text

from kefu.agents.models import Agent
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.reports.bulkgen import generate_sql
from kefu.reports.rollup import roll_span, rollup
from tests.conftest import PG_URL, fresh_database

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(not PG_URL, reason="needs KEFU_TEST_DATABASE_URL (PostgreSQL)"),
]
ZONE = ZoneInfo("Asia/Shanghai")
BIG = ("messages", "routing_events")  # a scan of either costs a read of the whole history


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def whole_reads(plan: dict[str, Any]) -> list[str]:
    """Reads of a big table not bounded by an index condition: a Seq Scan, or an index
    scanned from end to end (what a merge join along a primary key does)."""
    out = []
    for node in nodes(plan):
        if node.get("Relation Name") not in BIG:
            continue
        kind = node["Node Type"]
        if kind == "Seq Scan" or (kind in ("Index Scan", "Index Only Scan")
                                  and "Index Cond" not in node):  # fmt: skip
            out.append(f"{kind} on {node['Relation Name']}")
    return out


@pytest.fixture
def pg_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    from kefu.db.migrate import upgrade

    url = fresh_database("postgresql", tmp_path)
    upgrade(url)
    return url


async def test_a_span_reads_messages_and_events_by_index(pg_url: str) -> None:
    engine = make_engine(pg_url)
    statements: list[tuple[str, Any, bool]] = []

    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "DELETE", "UPDATE")):
            statements.append((statement, params, many))

    try:
        async with make_sessionmaker(engine)() as db:
            await db.execute(insert(Agent), [
                {"username": f"p{n}", "display_name": f"坐席{n}", "role": "agent",
                 "password_hash": "x"} for n in range(8)
            ])  # fmt: skip
            today = datetime.now(ZONE).date()
            # 120 days × 60 conversations × ~6 messages: a week is a twentieth of the table.
            await generate_sql(db, first_day=today - timedelta(days=120), days=120,
                               per_day=60, zone=ZONE, messages_per=6)  # fmt: skip
            await db.commit()
            await db.execute(text("ANALYZE"))
            await rollup(db, now=datetime.now(UTC), zone=ZONE)  # the first, full round
            await db.commit()
            week = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=40)
            event.listen(engine.sync_engine, "before_cursor_execute", capture)
            await roll_span(db, week, week + timedelta(days=7))
            await db.commit()
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
            assert any("messages" in s for s, _, _ in statements)

            conn = await db.connection()
            found = []
            for statement, params, many in statements:
                one = params[0] if many else params
                rows = (await conn.exec_driver_sql(
                    "EXPLAIN (FORMAT JSON) " + statement, one)).scalar_one()  # fmt: skip
                plan = rows if isinstance(rows, list) else json.loads(rows)
                found += [(read, " ".join(statement.split())[:100])
                          for read in whole_reads(plan[0]["Plan"])]  # fmt: skip
            await db.rollback()
            assert found == []
    finally:
        await engine.dispose()
