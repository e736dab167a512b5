"""Self-service containment per customer session on a planted set: which turns share a
session (30 minutes between turns, per channel and address), when a session counts as
contained, the hour it is counted in, and a late turn that un-contains an earlier session."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.reports import dashboards, kpis
from kefu.reports.models import SelfServiceTurn
from kefu.reports.rollup import rollup
from kefu.reports.settings import ReportsSettings
from kefu.reports.turns import customer_key, record_turn

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
CFG = ReportsSettings()


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 9, 1, hour, minute, tzinfo=UTC)


async def turn(db: AsyncSession, channel: str, address: str, when: datetime, *,
               answered: bool = True, handed_off: bool = False) -> SelfServiceTurn:  # fmt: skip
    made = await record_turn(db, channel=channel, address=address, intent="bill.query",
                             answered=answered, handed_off=handed_off, at=when)  # fmt: skip
    await db.flush()
    return made


async def test_containment_per_session_on_a_planted_set(session: AsyncSession) -> None:
    # A: three answered turns 10 and 25 minutes apart: one session, contained.
    a1 = await turn(session, "wechat", "oA", at(10, 0))
    await turn(session, "wechat", "oA", at(10, 10))
    a3 = await turn(session, "wechat", "oA", at(10, 35))
    # The same address on another channel is another customer session (contained).
    other = await turn(session, "sms", "oA", at(10, 15))
    # B: answered, then 55 minutes later a misread and a hand-off: two sessions, one contained.
    await turn(session, "sms", "13800000001", at(10, 5))
    b2 = await turn(session, "sms", "13800000001", at(11, 0), answered=False)
    await turn(session, "sms", "13800000001", at(11, 5), answered=False, handed_off=True)
    # C: misread, then answered two minutes later: contained (it ended answered).
    await turn(session, "webchat", "c-visitor", at(10, 50), answered=False)
    await turn(session, "webchat", "c-visitor", at(10, 52))
    # D: answered, then handed to an agent: not contained.
    await turn(session, "wechat", "oD", at(10, 20))
    await turn(session, "wechat", "oD", at(10, 25), answered=False, handed_off=True)
    # A turn stored before sessions were kept (no customer): a session of its own.
    session.add(SelfServiceTurn(at=at(10, 30), channel="sms", intent="", answered=False))
    await session.commit()

    assert a3.session_at == a1.at == at(10, 0) and other.session_at == at(10, 15)
    assert b2.session_at == at(11, 0)  # 55 minutes after B's last turn: a new session
    assert a1.customer == customer_key("wechat", "oA") != other.customer
    assert len(a1.customer) == 16 and "oA" not in a1.customer  # no address kept

    await rollup(session, zone=ZONE)
    await session.commit()
    ten = await kpis.totals(session, at(10), at(11), settings=CFG, zone=ZONE)
    eleven = await kpis.totals(session, at(11), at(12), settings=CFG, zone=ZONE)
    # Hour 10: sessions A, A-sms, B1, C, D and the old turn began; A, A-sms, B1, C contained.
    assert ten["session_containment"] == pytest.approx(400 / 6, abs=0.01)
    assert eleven["session_containment"] == 0  # B2 went to an agent
    # Per turn the same customers look better: 7 of 10 turns in hour 10 were answered.
    assert ten["containment"] == 70
    day = await kpis.run(
        session,
        kpis.Query(at(0), at(23), ["session_containment"], ["channel"]),
        settings=CFG,
        zone=ZONE,
    )
    by_channel = {r["channel"]: r["session_containment"] for r in day.rows}
    assert by_channel == {"wechat": 50, "sms": pytest.approx(50), "webchat": 100}

    # A late turn joins A's session (25 minutes after its last) and hands A over: hour 10
    # is re-rolled although the turn is in hour 11, and A is no longer contained.
    late = await turn(session, "wechat", "oA", at(11, 0), answered=False, handed_off=True)
    await session.commit()
    assert late.session_at == at(10, 0)
    result = await rollup(session, zone=ZONE)
    await session.commit()
    assert at(10) in result.rolled
    ten = await kpis.totals(session, at(10), at(11), settings=CFG, zone=ZONE)
    assert ten["session_containment"] == 50


async def test_head_of_service_shows_both_containments(session: AsyncSession) -> None:
    today = datetime.now(ZONE).date()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    await turn(session, "wechat", "oX", now)
    await turn(session, "wechat", "oY", now, answered=False, handed_off=True)
    await session.commit()
    await rollup(session, zone=ZONE)
    await session.commit()
    data = await dashboards.overview(session, today=today, settings=CFG, zone=ZONE)
    tiles = data["tiles"]
    assert tiles["session_containment"]["now"] == 50  # type: ignore[index]
    assert tiles["containment"]["now"] == 50  # type: ignore[index]
    assert data["trend"][today.isoformat()]["session_containment"] == 50  # type: ignore[index]
    assert (await session.scalars(select(SelfServiceTurn.customer))).all()
