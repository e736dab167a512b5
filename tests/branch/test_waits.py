"""Predicted waits on live queues, nearest branches first, and SMS PD's answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.assistant import render
from kefu.bank.models import Branch
from kefu.branch import queue
from kefu.branch.waits import distance_km, nearest_waits
from tests.branch.conftest import NOW

pytestmark = pytest.mark.db


def branch(code: str, city: str, lat: float, lon: float) -> Branch:
    return Branch(code=code, name=f"{city}{code}网点", city=city, address="路1号", latitude=lat,
                  longitude=lon, counters=3, opening_hours="周一至周五 9:00-17:00")  # fmt: skip


def test_distance() -> None:
    assert distance_km(22.54, 114.06, 22.54, 114.06) == 0
    assert 100 < distance_km(22.54, 114.06, 23.13, 113.26) < 110  # 深圳 to 广州


async def test_pd_names_the_nearest_branches_with_their_waits(session: AsyncSession) -> None:
    branches = [branch("GZ1", "广州", 23.13, 113.26), branch("SZ1", "深圳", 22.54, 114.06),
                branch("BJ1", "北京", 39.90, 116.40)]  # fmt: skip
    counter = await queue.add_counter(session, branch_code="SZ1", number=1, services=["cash"])
    await queue.set_counter_state(session, counter_id=counter.id, state="open")
    for i in range(8):
        await queue.take_ticket(session, branch_code="SZ1", service_code="cash",
                                now=NOW - timedelta(minutes=20 - i))  # fmt: skip
    waits = await nearest_waits(session, branches, "深圳", limit=2, now=NOW)
    assert [w.branch.code for w in waits] == ["SZ1", "GZ1"]
    assert waits[0].waiting == 8 and waits[0].wait_seconds and waits[0].wait_seconds > 600
    assert waits[1].band == "closed"
    text = render.branches("深圳", waits)
    assert "排队8人" in text and "广州GZ1网点暂停取号" in text and "即将开通" not in text
    assert await nearest_waits(session, branches, "拉萨") == []
    assert render.branches("拉萨", []) == "拉萨暂无本行网点。"
