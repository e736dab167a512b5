"""Fixtures of the reports tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import session_on


@pytest.fixture
async def session(db_url: str) -> AsyncIterator[AsyncSession]:
    """A session on a fresh migrated database (each backend)."""
    async with session_on(db_url) as s:
        yield s
