"""Migration 0051: the hot outbox tables' own autovacuum settings on PostgreSQL, removed by its
downgrade; a no-op that still runs both ways on SQLite and MariaDB."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from kefu.db.engine import make_engine
from kefu.db.migrate import downgrade, upgrade

pytestmark = pytest.mark.db

TABLES = ("sms_messages", "wechat_inbound", "webhook_deliveries")
EXPECTED = {
    "autovacuum_vacuum_scale_factor=0.01",
    "autovacuum_vacuum_threshold=1000",
    "autovacuum_analyze_scale_factor=0.02",
}
BEFORE = "0050_wechat_recovery"


async def _query(url: str, sql: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


def _reloptions(url: str) -> dict[str, set[str]]:
    rows = asyncio.run(
        _query(
            url,
            "SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace",
        )
    )
    return {name: set(options or ()) for name, options in rows}


def _version(url: str) -> str:
    return asyncio.run(_query(url, "SELECT version_num FROM alembic_version"))[0][0]


def test_upgrade_sets_and_downgrade_resets(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    if empty_db_url.startswith("postgresql"):
        options = _reloptions(empty_db_url)
        for table in TABLES:
            assert options[table] == EXPECTED, table
        # Only the tables that need them: the others keep the server's defaults.
        assert options["wechat_outbound"] == set()
        assert options["customers"] == set()
        # A DBA's own option on one of the tables survives the downgrade (RESET names ours).
        asyncio.run(_query(empty_db_url, "ALTER TABLE sms_messages SET (fillfactor = 90)"))

    downgrade(empty_db_url, BEFORE)
    assert _version(empty_db_url) == BEFORE
    if empty_db_url.startswith("postgresql"):
        options = _reloptions(empty_db_url)
        assert options["sms_messages"] == {"fillfactor=90"}
        assert options["wechat_inbound"] == set()
        assert options["webhook_deliveries"] == set()

    upgrade(empty_db_url)
    if empty_db_url.startswith("postgresql"):
        assert _reloptions(empty_db_url)["sms_messages"] == EXPECTED | {"fillfactor=90"}
