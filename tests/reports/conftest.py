"""Fixtures of the reports tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db.engine import make_engine, make_sessionmaker


@pytest.fixture
async def session(db_url: str) -> AsyncIterator[AsyncSession]:
    """A session on a fresh migrated database (each backend), its engine disposed after."""
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()
