"""The set-based rollup (kefu.reports.rollup_sql) writes exactly the rows of the
per-conversation reference (kefu.reports.rollup.roll_span_reference) on a generated month
plus hand-made edge cases: a conversation whose messages span hours, transfers and an
escalation, a reopened conversation, one with no agent, a breached and an overflowed task,
re-contacts by customer and by address, self-service only turns with a session crossing an
hour, and times with microseconds. The incremental path: an event after the rollup re-rolls
its hour once, to the reference's rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.identity.models import Customer
from kefu.reports.demo import generate
from kefu.reports.models import COUNTS, SUMS, KpiHourly
from kefu.reports.rollup import roll_span, roll_span_reference, rollup
from kefu.reports.turns import record_turn
from kefu.routing.models import RoutingEvent, RoutingTask

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 10, 1)
START = datetime(2026, 9, 30, 0, tzinfo=UTC)
END = datetime(2026, 11, 2, 0, tzinfo=UTC)


def t(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, second, micro, tzinfo=UTC)


async def edge_cases(db: AsyncSession, agents: list[int]) -> None:
    a, b = agents[0], agents[1]
    who = Customer(bank_customer_no="EDGE1")
    db.add(who)
    await db.flush()

    def conv(
        created: datetime, closed: datetime | None, agent: int | None, **kw: Any
    ) -> Conversation:
        c = Conversation(channel=kw.pop("channel", "wechat"), contact=kw.pop("contact", "oEDGE"),
                         status="closed" if closed else "open", created_at=created,
                         updated_at=closed or created, closed_at=closed, assigned_agent_id=agent,
                         **kw)  # fmt: skip
        db.add(c)
        return c

    said: list[tuple[Conversation, datetime, str, str, int | None]] = []

    def say(c: Conversation, when: datetime, who: str, body: str, agent: int | None = None) -> None:
        said.append((c, when, who, body, agent))  # written once the conversations have ids

    # Spans three hours, transferred a → b then escalated, microsecond times.
    long = conv(t(5, 9, 50, 1, 250_001), t(5, 11, 20, 0, 999_999), b, intent="card.lost",
                customer_id=who.id)  # fmt: skip
    say(long, t(5, 9, 50, 1, 250_001), "customer", "信用卡丢了怎么办")
    say(long, t(5, 9, 55, 0, 1), "agent", "请稍等", a)
    say(long, t(5, 10, 30), "customer", "还在吗")
    say(long, t(5, 11, 19), "agent", "已为您挂失", b)
    say(long, t(5, 11, 19, 30), "customer", "谢谢你，服务很好")
    # Reopened: closed earlier, re-opened (closed_at cleared), a new message after.
    reopened = conv(t(6, 14, 0), None, a, intent="bill.query", customer_id=who.id)
    say(reopened, t(6, 14, 0, 5), "customer", "我要查账单")
    say(reopened, t(6, 14, 2), "agent", "好的", a)
    say(reopened, t(6, 16, 0), "customer", "还是没解决，太失望了")
    # No agent, closed (abandoned), an address only: its re-contact by address below.
    lonely = conv(t(7, 3, 0), t(7, 3, 10), None, channel="sms", contact="13900001111")
    say(lonely, t(7, 3, 0, 1), "customer", "转人工")
    again = conv(t(8, 3, 0), t(8, 3, 30), a, channel="sms", contact="13900001111")
    say(again, t(8, 3, 1), "customer", "你好")
    # Same customer again within 7 days of `long` closing (a re-contact by customer).
    conv(t(9, 1, 0), t(9, 1, 5), a, customer_id=who.id)
    # Breached, overflowed, and no task at all; one without any customer message.
    breached = conv(t(10, 2, 0), t(10, 3, 0), b, intent="complaint")
    overflowed = conv(t(10, 2, 30), t(10, 2, 31), None)
    conv(t(10, 4, 0), None, None, intent=None, contact="")
    await db.flush()
    db.add_all([
        RoutingTask(conversation_id=long.id, state="closed", channel="wechat", workflow_version=1,
                    rule="r", queue="credit_card", enqueued_at=t(5, 9, 50, 2, 7),
                    first_response_at=t(5, 9, 55, 0, 1), agent_id=b),
        RoutingTask(conversation_id=reopened.id, state="assigned", channel="wechat",
                    workflow_version=1, rule="r", queue="credit_card", enqueued_at=t(6, 14, 0, 6),
                    first_response_at=t(6, 14, 2), agent_id=a, breached="first_response"),
        RoutingTask(conversation_id=breached.id, state="closed", channel="wechat",
                    workflow_version=1, rule="r", queue="complaint", enqueued_at=t(10, 2, 0, 1),
                    breached="answer,first_response"),
        RoutingTask(conversation_id=overflowed.id, state="overflowed", channel="wechat",
                    workflow_version=1, rule="r", queue="complaint", enqueued_at=t(10, 2, 30)),
    ])  # fmt: skip
    for kind, when, agent in (("accepted", t(5, 9, 54), a), ("transferred", t(5, 10, 0), a),
                              ("accepted", t(5, 10, 1), b), ("escalated", t(5, 11, 0), b),
                              ("claimed", t(5, 11, 1), b)):  # fmt: skip
        db.add(RoutingEvent(conversation_id=long.id, kind=kind, at=when, agent_id=agent))
    say(breached, t(10, 2, 0, 1), "customer", "排队太久了，很不满意")
    db.add_all([
        Message(conversation_id=c.id, channel=c.channel,
                direction="in" if sender == "customer" else "out", sender_type=sender,
                sender_agent_id=agent, body=body, created_at=when)
        for c, when, sender, body, agent in said
    ])  # fmt: skip
    # Self-service only: a session crossing an hour (begins 8:50, ends 9:10), handed off in a
    # second session, and a turn without an address (a session of its own).
    for minute, answered, handed in ((50, True, False), (70, False, False), (80, True, False)):
        await record_turn(db, channel="webchat", address="visitor-9", intent="balance",
                          answered=answered, handed_off=handed,
                          at=t(11, 8) + timedelta(minutes=minute))  # fmt: skip
        await db.flush()
    for minute, handed in ((0, False), (5, True)):
        await record_turn(db, channel="sms", address="13700000000", intent="",
                          answered=not handed, handed_off=handed, at=t(12, 20, minute))  # fmt: skip
        await db.flush()
    await record_turn(db, channel="wechat", address="", intent="hours", answered=True,
                      handed_off=False, at=t(12, 20, 59, 59, 999_999))  # fmt: skip
    await db.commit()


async def snapshot(db: AsyncSession) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = (await db.execute(select(KpiHourly).order_by(KpiHourly.id))).scalars().all()
    out = {}
    for r in rows:
        key = (r.hour, r.channel, r.queue, r.intent, r.agent_id)
        assert key not in out, f"duplicate row {key}"
        # Counts exactly; sums to the microsecond (the engines add floats in another order).
        out[key] = (*(getattr(r, c) for c in COUNTS), *(round(getattr(r, s), 6) for s in SUMS))
    return out


async def seeded(db: AsyncSession) -> list[int]:
    db.add_all([Agent(username=f"r{i}", display_name=f"坐席{i}", role="agent", password_hash="x")
                for i in range(6)])  # fmt: skip
    await db.flush()
    agents = list((await db.scalars(select(Agent.id).order_by(Agent.id))).all())
    await generate(db, first_day=FIRST, days=31, per_day=40, zone=ZONE, messages_per=4)
    await db.commit()
    await edge_cases(db, agents)
    return agents


async def test_set_based_rows_equal_the_reference(session: AsyncSession) -> None:
    db = session
    await seeded(db)
    written = await roll_span_reference(db, START, END)
    reference = await snapshot(db)
    await db.execute(delete(KpiHourly))
    assert await roll_span(db, START, END) == written
    await db.commit()
    rolled = await snapshot(db)
    assert len(reference) > 500  # a month's rows, not a toy
    assert rolled.keys() == reference.keys()
    differ = {k: (rolled[k], reference[k]) for k in reference if rolled[k] != reference[k]}
    names = (*COUNTS, *SUMS)
    detail = [(k, {n: (x, y) for n, x, y in zip(names, *v, strict=True) if x != y})
              for k, v in list(differ.items())[:5]]  # fmt: skip
    assert not differ, detail
    # The edge cases are in: the transfer, the escalation, re-contacts, the abandoned, the
    # breached SLA, the session over an hour, and handle time to the microsecond.
    totals = {c: sum(v[i] for k, v in rolled.items() if k[4] != -1) for i, c in enumerate(COUNTS)}
    assert totals["escalations"] >= 1 and totals["transfers"] >= 1
    assert totals["recontacts"] >= 2 and totals["abandoned"] >= 2
    assert totals["sla_due"] > totals["sla_met"]
    webchat_9 = [v for k, v in rolled.items()
                 if k[:2] == (t(11, 8), "webchat") and k[3] == "balance" and k[4] == 0]  # fmt: skip
    assert webchat_9 and webchat_9[0][COUNTS.index("selfservice_sessions")] == 1
    assert webchat_9[0][COUNTS.index("selfservice_contained")] == 1


async def test_incremental_event_rerolls_its_hour_once(session: AsyncSession) -> None:
    db = session
    agents = await seeded(db)
    first = await rollup(db, now=datetime.now(UTC))
    await db.commit()
    assert first.hours > 500
    # A late customer message in an old conversation of 5 October and a late turn.
    old = await db.scalar(select(Conversation).where(Conversation.created_at >= t(5, 9, 0),
                                                     Conversation.created_at < t(5, 10, 0),
                                                     Conversation.assigned_agent_id == agents[1]))  # fmt: skip
    assert old is not None
    db.add(Message(conversation_id=old.id, channel=old.channel, direction="in",
                   sender_type="customer", body="还是没解决，太失望了",
                   created_at=t(20, 6, 30)))  # fmt: skip
    await record_turn(db, channel="sms", address="13600000000", intent="", answered=True,
                      handed_off=False, at=t(21, 7, 15))  # fmt: skip
    await db.commit()
    second = await rollup(db, now=datetime.now(UTC))
    await db.commit()
    # Their hours and no other: the old conversation's, the message's, the turn's.
    assert set(second.rolled) == {t(5, 9), t(20, 6), t(21, 7)}
    after = await snapshot(db)
    # The same rows as the reference computed from scratch over the whole month.
    await db.execute(delete(KpiHourly))
    await roll_span_reference(db, START, END)
    assert await snapshot(db) == after
    await db.rollback()
    # Nothing new: an idle round re-rolls at most that newest hour, to the same rows.
    assert (await rollup(db, now=datetime.now(UTC))).hours <= 1
    assert await snapshot(db) == after
