"""The demo's branch day puts the three demo branches in three colours for cash."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import Branch
from kefu.branch.demo import seed_branch_day
from kefu.branch.models import BranchTicket
from kefu.branch.waits import branch_waits
from tests.branch.conftest import NOW

pytestmark = pytest.mark.db


async def test_demo_day_shows_red_yellow_green(session: AsyncSession) -> None:
    written = await seed_branch_day(session, now=NOW)
    assert written > 200
    assert await seed_branch_day(session, now=NOW) == 0  # once
    waiting = await session.scalar(select(func.count()).where(BranchTicket.state == "waiting"))
    assert waiting and waiting > 10
    branches = [Branch(code=c, name=c, city="深圳", address="", latitude=22.5, longitude=114.0,
                       counters=4, opening_hours="9:00-17:00") for c in ("B001", "B002", "B003")]  # fmt: skip
    waits = await branch_waits(session, branches, "cash", now=NOW)
    print([(w.branch.code, w.waiting, w.wait_seconds, w.band) for w in waits])
    assert [w.band for w in waits] == ["red", "yellow", "green"]
