"""KPI formulas (docs/reports.md) on four hand-built conversations and five self-service
turns: each expected number is worked out by hand in the comments; the rollup re-run gives
the same rows, and a late event re-rolls its own old hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.quality.models import CsatResponse, QaScore
from kefu.reports import kpis
from kefu.reports.models import AgentMinute, KpiHourly, SelfServiceTurn
from kefu.reports.rollup import rollup, sentiment_of
from kefu.reports.settings import ReportsSettings
from kefu.routing.models import RoutingEvent, RoutingTask

pytestmark = pytest.mark.db

ZONE = ZoneInfo("Asia/Shanghai")
CFG = ReportsSettings()  # 4 agent minutes × 1.5 yuan per contact; an SMS costs 0.05


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 30, hour, minute, second, tzinfo=UTC)


def msg(c: Conversation, when: datetime, who: str, body: str, agent: int | None = None) -> None:
    c.messages.append(
        Message(channel=c.channel, direction="in" if who == "customer" else "out",
                sender_type=who, sender_agent_id=agent, body=body, created_at=when)
    )  # fmt: skip


async def seed(db: AsyncSession) -> dict[str, int]:
    a = Agent(username="a", display_name="甲", role="agent", password_hash="x")
    b = Agent(username="b", display_name="乙", role="agent", password_hash="x")
    db.add_all([a, b])
    await db.flush()

    def conv(channel: str, created: datetime, agent: int | None, closed: datetime | None,
             intent: str | None, contact: str) -> Conversation:  # fmt: skip
        return Conversation(channel=channel, contact=contact, intent=intent, created_at=created,
                            assigned_agent_id=agent, closed_at=closed,
                            status="closed" if closed else "open", messages=[])  # fmt: skip

    # C1 sms 02:00, agent a: first response after 60 s, accepted 02:00:30, closed 02:10:30
    # (handled 600 s), one transfer.
    c1 = conv("sms", at(2), a.id, at(2, 10, 30), "card.lost", "13800000001")
    msg(c1, at(2), "customer", "你好，我的卡丢了")
    msg(c1, at(2, 1), "agent", "马上为您挂失", a.id)
    msg(c1, at(2, 5), "customer", "太气人了，我要投诉！")
    # C2 sms 02:20, agent a: first response after 180 s but the first-response clock breached.
    c2 = conv("sms", at(2, 20), a.id, None, "card.lost", "13800000002")
    msg(c2, at(2, 20), "customer", "卡被吞了")
    msg(c2, at(2, 23), "agent", "请稍等", a.id)
    # C3 wechat 02:30, nobody answered, closed 02:40: abandoned; one escalation.
    c3 = conv("wechat", at(2, 30), None, at(2, 40), None, "openid-3")
    msg(c3, at(2, 30), "customer", "人工")
    # C4 sms 03:05, agent b, same number as C1 (closed 55 min before): a re-contact;
    # first response 60 s, accepted 03:05, closed 03:20 (handled 900 s).
    c4 = conv("sms", at(3, 5), b.id, at(3, 20), "card.lost", "13800000001")
    msg(c4, at(3, 5), "customer", "又是我")
    msg(c4, at(3, 6), "agent", "您好", b.id)
    db.add_all([c1, c2, c3, c4])
    await db.flush()

    def task(c: Conversation, queue: str, first: datetime | None, state: str,
             breached: str | None = None) -> RoutingTask:  # fmt: skip
        return RoutingTask(conversation_id=c.id, state=state, channel=c.channel, workflow_version=1,
                           rule="r", queue=queue, enqueued_at=c.created_at, first_response_at=first,
                           breached=breached)  # fmt: skip

    db.add_all([
        task(c1, "cards", at(2, 1), "completed"),
        task(c2, "cards", at(2, 23), "assigned", "first_response"),
        task(c3, "general", None, "completed"),
        task(c4, "cards", at(3, 6), "completed"),
        RoutingEvent(conversation_id=c1.id, kind="accepted", at=at(2, 0, 30), agent_id=a.id),
        RoutingEvent(conversation_id=c1.id, kind="transferred", at=at(2, 4)),
        RoutingEvent(conversation_id=c3.id, kind="escalated", at=at(2, 35)),
        RoutingEvent(conversation_id=c4.id, kind="accepted", at=at(3, 5), agent_id=b.id),
        # Self-service: three SMS turns at 02:xx (two answered), two WeChat at 03:xx (one).
        SelfServiceTurn(at=at(2, 1), channel="sms", intent="bill.query", answered=True),
        SelfServiceTurn(at=at(2, 2), channel="sms", intent="bill.query", answered=True),
        SelfServiceTurn(at=at(2, 3), channel="sms", intent="", answered=False),
        SelfServiceTurn(at=at(3, 1), channel="wechat", intent="bill.query", answered=True),
        SelfServiceTurn(at=at(3, 2), channel="wechat", intent="", answered=False),
        # CSAT for agent a: 5 and 4 (mean 4.5); QA: 80 and 90 (mean 85).
        CsatResponse(conversation_id=c1.id, agent_id=a.id, channel="sms", score=5, answered_at=at(2, 15)),
        CsatResponse(conversation_id=c2.id, agent_id=a.id, channel="sms", score=4, answered_at=at(3, 15)),
        QaScore(conversation_id=c1.id, agent_id=a.id, auto_score=80, score=80, scored_at=at(2, 20)),
        QaScore(conversation_id=c2.id, agent_id=a.id, auto_score=90, score=90, scored_at=at(3, 20)),
        # Agent a present four minutes, in a conversation for three: occupancy 75 %.
        *[AgentMinute(agent_id=a.id, minute=at(2, m), engaged=m < 3) for m in range(4)],
    ])  # fmt: skip
    await db.commit()
    return {"a": a.id, "b": b.id, "c3": c3.id}


async def test_kpi_formulas_on_hand_built_conversations(session: AsyncSession) -> None:
    # Nothing yet: counts are 0 and ratios have no value (not 0 %), even over a year.
    empty = await kpis.totals(session, at(0), at(0) + timedelta(days=365), settings=CFG, zone=ZONE)
    assert empty["conversations"] == 0 and empty["aht"] is None and empty["sla"] is None
    ids = await seed(session)
    await rollup(session)
    await session.commit()

    hour2 = await kpis.totals(session, at(2), at(3), settings=CFG, zone=ZONE)
    assert hour2["conversations"] == 3
    assert hour2["first_response"] == 120  # (60 + 180) / 2
    assert hour2["sla"] == 50  # C1 met, C2 breached
    assert hour2["abandonment"] == pytest.approx(33.3333)  # C3 of three
    assert hour2["aht"] == 600  # C1 only (C2 open)
    assert hour2["transfers"] == 1 and hour2["escalations"] == 1
    assert hour2["recontact"] == 0
    assert hour2["messages_in"] == 4 and hour2["messages_out"] == 2
    assert hour2["containment"] == pytest.approx(66.6667)  # 2 of 3 turns
    assert hour2["saved_cost"] == pytest.approx(11.9)  # 2 × (4 × 1.5 − 0.05)

    both = await kpis.totals(session, at(0), at(4), settings=CFG, zone=ZONE)
    assert both["conversations"] == 4
    assert both["first_response"] == 100  # (60 + 180 + 60) / 3
    assert both["sla"] == pytest.approx(66.6667)  # 2 of 3
    assert both["aht"] == 750  # (600 + 900) / 2
    assert both["recontact"] == 25  # C4 of four
    assert both["containment"] == 60  # 3 of 5 turns
    assert both["saved_cost"] == pytest.approx(17.9)  # 11.9 + 1 × (6 − 0 for WeChat)
    # Sentiment at start and end: the language layer's polarity of the first and last
    # customer message, averaged over conversations; C1 turns negative.
    expected_end = (sentiment_of("太气人了，我要投诉！") + sentiment_of("卡被吞了")
                    + sentiment_of("人工") + sentiment_of("又是我")) / 4  # fmt: skip
    assert both["sentiment_end"] == pytest.approx(expected_end, abs=1e-4)
    assert sentiment_of("太气人了，我要投诉！") < sentiment_of("你好，我的卡丢了")

    by_channel = await kpis.run(
        session, kpis.Query(at(0), at(4), ["conversations", "abandonment"], ["channel"]),
        settings=CFG, zone=ZONE,
    )  # fmt: skip
    assert by_channel.rows == [
        {"channel": "sms", "conversations": 3, "abandonment": 0},
        {"channel": "wechat", "conversations": 1, "abandonment": 100},
    ]
    by_hour = await kpis.run(
        session, kpis.Query(at(0), at(4), ["conversations"], ["hour"], {"channel": "sms"}),
        settings=CFG, zone=ZONE,
    )  # fmt: skip
    # Hours of the day in China time: 02 UTC = 10, 03 UTC = 11.
    assert by_hour.rows == [{"hour": "10", "conversations": 2}, {"hour": "11", "conversations": 1}]

    agents = await kpis.agent_rows(session, at(0), at(4), settings=CFG, zone=ZONE)
    by_agent = {row["agent"]: row for row in agents}
    assert by_agent[ids["a"]]["handled"] == 1 and by_agent[ids["a"]]["aht"] == 600
    assert by_agent[ids["a"]]["occupancy"] == 75
    assert by_agent[ids["a"]]["csat"] == 4.5 and by_agent[ids["a"]]["qa"] == 85
    assert by_agent[ids["b"]]["csat"] is None  # no answers: no score, not 0
    assert by_agent[ids["b"]]["handled"] == 1 and by_agent[ids["b"]]["aht"] == 900
    assert by_agent[ids["b"]]["occupancy"] is None  # never sampled present


async def _rows(session: AsyncSession) -> list[tuple[object, ...]]:
    rows = (await session.scalars(select(KpiHourly).order_by(KpiHourly.hour, KpiHourly.id))).all()
    return sorted(
        (r.hour, r.channel, r.queue, r.intent, r.agent_id, r.conversations, r.transfers,
         r.messages_in, r.handle_seconds)
        for r in rows
    )  # fmt: skip


async def test_rollup_is_idempotent_and_late_events_reroll_their_hour(
    session: AsyncSession,
) -> None:
    ids = await seed(session)
    first = await rollup(session)
    await session.commit()
    assert first.hours == 2
    before = await _rows(session)

    # Nothing new: nothing is re-rolled (updated_at is compared with >: with >= every round
    # re-rolled the newest-updated conversation's hour, so no round was ever idle).
    again = await rollup(session)
    assert again.hours == 0 and again.rolled == []
    assert await _rows(session) == before
    forced = await rollup(session, hours=[at(2), at(3)])  # forced: the same rows
    await session.commit()
    assert forced.hours == 2
    assert await _rows(session) == before

    # A transfer recorded late for C3 (02:30's conversation): only hour 02 is re-rolled.
    session.add(RoutingEvent(conversation_id=ids["c3"], kind="transferred", at=at(2, 39)))
    await session.commit()
    late = await rollup(session)
    await session.commit()
    assert late.rolled == [at(2)]
    # A conversation changed in place (no new id) is still found by its newer updated_at.
    c3 = await session.get(Conversation, ids["c3"])
    assert c3 is not None
    c3.subject = "补充说明"
    await session.commit()
    edited = await rollup(session)
    await session.commit()
    assert edited.rolled == [at(2)]
    hour2 = await kpis.totals(session, at(2), at(3), settings=CFG, zone=ZONE)
    assert hour2["transfers"] == 2
    hour3 = await kpis.totals(session, at(3), at(4), settings=CFG, zone=ZONE)
    assert hour3["conversations"] == 1 and hour3["recontact"] == 100
    # A conversation closed later (C2): its opening hour is re-rolled with the handle time.
    c2 = (
        await session.scalars(select(Conversation).where(Conversation.contact == "13800000002"))
    ).one()
    c2.closed_at = at(2, 50)
    c2.status = "closed"
    await session.commit()
    assert at(2) in (await rollup(session)).rolled
    await session.commit()
    hour2 = await kpis.totals(session, at(2), at(3), settings=CFG, zone=ZONE)
    # C2 has no accepted event: its handling starts at the first response (02:23 → 02:50).
    assert hour2["aht"] == (600 + 27 * 60) / 2
    assert hour2["transfers"] == 2  # unchanged by the re-roll
