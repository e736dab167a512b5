from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kefu.db.engine import make_engine
from kefu.db.migrate import downgrade, upgrade
from kefu.db.models import Base

pytestmark = pytest.mark.db


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(
                await conn.run_sync(lambda c: __import__("sqlalchemy").inspect(c).get_table_names())
            )
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    tables = _run(_tables(empty_db_url))
    assert {
        "customers",
        "channel_identities",
        "agents",
        "conversations",
        "messages",
        "audit_log",
    } <= tables
    downgrade(empty_db_url, "base")
    assert _run(_tables(empty_db_url)) <= {"alembic_version"}
    upgrade(empty_db_url)
    assert "messages" in _run(_tables(empty_db_url))


def test_models_and_migrations_agree(db_url: str) -> None:
    """A model changed without a migration shows up here as a non-empty diff."""

    async def diff() -> list:
        engine = make_engine(db_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
                )
        finally:
            await engine.dispose()

    assert _run(diff()) == []


def test_audit_log_is_append_only(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO audit_log (at, actor, action, target, details) "
                        "VALUES (CURRENT_TIMESTAMP, 't', 'x', '', '{}')"
                    )
                )
            for statement in ("UPDATE audit_log SET actor = 'forged'", "DELETE FROM audit_log"):
                with pytest.raises(DBAPIError, match="append-only"):
                    async with engine.begin() as conn:
                        await conn.execute(text(statement))
            async with engine.connect() as conn:
                actor = (await conn.execute(text("SELECT actor FROM audit_log"))).scalar_one()
            assert actor == "t"
        finally:
            await engine.dispose()

    _run(go())


def test_one_head() -> None:
    """Package branches are joined by merge revisions: a deployment has one schema version."""
    from kefu.db.migrate import current_heads

    assert len(current_heads()) == 1, "add a merge revision joining the heads"
