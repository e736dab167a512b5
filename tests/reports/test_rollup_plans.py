"""A rollup round on SQLite reads its sources through their indexes, never by scanning a
whole table: a statement that scans messages or conversations costs a 10 M-message read per
span (the sentiment statement did, kefu.reports.rollup_sql._sentiment: a year's full rollup
re-read every message once per week of it). SQLite's plans without statistics (the product
runs no ANALYZE) are what is checked; PostgreSQL's depend on its table statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert

from kefu.agents.models import Agent
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.reports.bulkgen import generate_sql
from kefu.reports.rollup import rollup

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
SOURCES = ("messages", "conversations", "routing_events", "routing_tasks",
           "kpi_selfservice_turns", "kpi_agent_minutes")  # fmt: skip


async def test_a_rollup_round_scans_no_source_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kefu.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'plans.db'}"
    upgrade(url)
    engine = make_engine(url)
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if not many and statement.lstrip().upper().startswith(
            ("SELECT", "INSERT", "DELETE", "UPDATE")
        ):
            statements.append((statement, params))

    try:
        async with make_sessionmaker(engine)() as db:
            await db.execute(insert(Agent), [
                {"username": f"p{n}", "display_name": f"坐席{n}", "role": "agent",
                 "password_hash": "x"} for n in range(3)
            ])  # fmt: skip
            today = datetime.now(ZONE).date()
            await generate_sql(
                db, first_day=today - timedelta(days=3), days=3, per_day=8, zone=ZONE
            )
            await db.commit()
            event.listen(engine.sync_engine, "before_cursor_execute", capture)
            await rollup(db, now=datetime.now(UTC), zone=ZONE)  # the first, full round
            await rollup(db, now=datetime.now(UTC), zone=ZONE)  # an idle one
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
            conn = await db.connection()
            scans = []
            for statement, params in statements:
                plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)).all()  # type: ignore[arg-type]
                scans += [(row[3], statement[:120]) for row in plan
                          if any(row[3].startswith(f"SCAN {t} ") or row[3] == f"SCAN {t}"
                                 for t in SOURCES)]  # fmt: skip
            # The sentiment statement (first and last customer text) was among them.
            assert any("messages_2.body" in s for s, _ in statements)
            assert len(statements) > 20
            assert scans == []
            await db.rollback()
    finally:
        await engine.dispose()
