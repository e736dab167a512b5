from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch.models import (
    BranchAppointment,
    BranchCounter,
    BranchForm,
    BranchFormTry,
    BranchQueueSetting,
    BranchSlot,
    BranchTicket,
)
from kefu.db.engine import make_engine, make_sessionmaker
from tests.conftest import BACKENDS, fresh_database, session_on

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@pytest.fixture(scope="module", params=BACKENDS)
def queue_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated database per backend for the module (migrating takes seconds; the queue
    tests empty the branch tables instead)."""
    from kefu.db.migrate import upgrade

    url = fresh_database(request.param, Path(tmp_path_factory.mktemp("branch")))
    upgrade(url)
    return url


@pytest.fixture
async def empty_queues(queue_db_url: str) -> str:
    engine = make_engine(queue_db_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            for table in (BranchTicket, BranchCounter, BranchQueueSetting, BranchForm,
                          BranchFormTry, BranchSlot, BranchAppointment):  # fmt: skip
                await s.execute(delete(table))
    finally:
        await engine.dispose()
    return queue_db_url


@pytest.fixture
async def session(empty_queues: str) -> AsyncIterator[AsyncSession]:
    async with session_on(empty_queues) as s:
        yield s
