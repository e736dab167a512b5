"""The crisis worker on a replayed stream: a planted burst raises one alert per burst term,
the on-duty supervisors are notified, a restart neither loses nor duplicates an alert, and an
alert nobody acknowledges goes to the next level on time (an injected clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kefu.audit.models import AuditEntry
from kefu.social.crisis import service
from kefu.social.crisis.models import CrisisAlert, CrisisCursor, CrisisNotice
from kefu.social.crisis.notify import Notifier
from kefu.social.crisis.settings import CrisisSettings
from kefu.social.crisis.worker import CrisisWorker
from tests.social.crisis.stream import BURST_START, BURST_TERM, T0, plan, store

pytestmark = pytest.mark.db

SETTINGS = CrisisSettings(
    interval=0, ack_minutes=10, wechat_account="bank",
    on_duty=[{"name": "值班主管", "mobile": "13800000001", "openid": "o-duty"}],
    escalation=[{"name": "中心负责人", "mobile": "13800000002"}],
)  # fmt: skip


def worker(sessionmaker, sms, wechat=None, **changes) -> CrisisWorker:  # type: ignore[no-untyped-def]
    settings = CrisisSettings(**{**SETTINGS.model_dump(), **changes})
    return CrisisWorker(sessionmaker, settings, Notifier(settings, sms=sms, wechat=wechat))


async def replay(sessionmaker, w: CrisisWorker, posts, *, upto: int, step: int = 2, done: int = 0):  # type: ignore[no-untyped-def]
    """Stores the planned posts minute by minute (``step`` at a time) from ``done`` to
    ``upto`` and runs the worker after each, with the clock at the end of the minute."""
    stored = sum(1 for p in posts if p.minute < done)
    for minute in range(done + step, upto + 1, step):
        batch = [p for p in posts if minute - step <= p.minute < minute]
        async with sessionmaker() as db:
            await store(db, batch, start=stored)
        stored += len(batch)
        await w.run_once(now=T0 + timedelta(minutes=minute))


def about_the_burst(alert: CrisisAlert) -> bool:
    """The planted crisis's alert, whichever of its words leads it (盗刷, or 信用卡 with 盗刷
    related: the detector folds a crisis's words into one alert)."""
    return alert.term == BURST_TERM or BURST_TERM in (alert.related or [])


async def alerts(sessionmaker) -> list[CrisisAlert]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as db:
        return list((await db.scalars(select(CrisisAlert).order_by(CrisisAlert.id))).all())


async def test_a_planted_burst_raises_one_alert_and_notifies_the_on_duty(
    sessionmaker, fake_sms, fake_wechat
) -> None:  # type: ignore[no-untyped-def]
    posts = plan()
    w = worker(sessionmaker, fake_sms, fake_wechat, ack_minutes=60)
    await replay(sessionmaker, w, posts, upto=60)
    found = await alerts(sessionmaker)
    terms = [a.term for a in found]
    assert sum(map(about_the_burst, found)) == 1, "one alert per burst"
    assert len(terms) == len(set(terms))
    background = [t for t in terms if t not in (BURST_TERM, "信用卡盗刷", "信用卡")]
    assert background == []
    alert = next(a for a in found if about_the_burst(a))
    assert alert.state == "open" and alert.playbook == "card_fraud"
    # The detector estimates the start (a broad term such as 信用卡 from a noisier baseline).
    assert T0 + timedelta(minutes=BURST_START - 10) <= alert.started_at
    assert alert.raised_at <= T0 + timedelta(minutes=BURST_START + 5)
    # Folded in as the burst went on: more than the posts that tipped it, each counted once.
    assert alert.volume >= 60 and len(alert.post_ids) == len(set(alert.post_ids))
    async with sessionmaker() as db:
        notices = (
            await db.scalars(select(CrisisNotice).where(CrisisNotice.alert_id == alert.id))
        ).all()
        cursor = await db.get(CrisisCursor, "social_posts")
        audited = await db.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == "crisis.alert"))  # fmt: skip
    assert {(n.channel, n.address, n.level) for n in notices} == {
        ("sms", "13800000001", 0), ("wechat", "o-duty", 0)}  # fmt: skip
    assert {n.state for n in notices} == {"queued", "sent"}
    assert [m["to"] for m in fake_sms.queued].count("13800000001") == len(found)
    assert ("bank", "o-duty", "crisis_alert") in fake_wechat.sent
    assert any(f"「{alert.term}」" in m["text"] for m in fake_sms.queued)
    assert {m["kind"] for m in fake_sms.queued} == {"notification"}
    assert cursor is not None and cursor.last_post_id == len(posts)
    assert audited == len(found)


async def test_a_restart_mid_burst_neither_duplicates_nor_loses_an_alert(
    sessionmaker, fake_sms
) -> None:  # type: ignore[no-untyped-def]
    posts = plan()
    first = worker(sessionmaker, fake_sms, ack_minutes=60)
    await replay(sessionmaker, first, posts, upto=BURST_START + 4)
    before = {a.term: a.id for a in await alerts(sessionmaker)}
    assert any(map(about_the_burst, await alerts(sessionmaker))), "raised before the restart"
    # A new process: nothing in memory, only the cursor and the rows.
    second = worker(sessionmaker, fake_sms, ack_minutes=60)
    await replay(sessionmaker, second, posts, upto=60, done=BURST_START + 4)
    after = await alerts(sessionmaker)
    assert sum(map(about_the_burst, after)) == 1
    assert {a.term: a.id for a in after if a.term in before} == before
    assert len(fake_sms.queued) == len(after), "nobody told twice"
    burst = next(a for a in after if about_the_burst(a))
    assert burst.volume >= 100, "the rest of the burst was counted in after the restart"


async def test_a_restart_without_a_replay_window_still_adds_no_duplicate(
    sessionmaker, fake_sms
) -> None:  # type: ignore[no-untyped-def]
    # With no replay the new detector warms up from nothing and may see the burst again
    # later: the stored alert for the same burst takes it.
    posts = plan(minutes=75)
    first = worker(sessionmaker, fake_sms, ack_minutes=60)
    await replay(sessionmaker, first, posts, upto=BURST_START + 3)
    second = worker(sessionmaker, fake_sms, ack_minutes=60, replay_hours=0)
    await replay(sessionmaker, second, posts, upto=75, done=BURST_START + 3)
    assert sum(map(about_the_burst, await alerts(sessionmaker))) == 1


async def test_unacknowledged_alerts_escalate_after_the_configured_minutes(
    sessionmaker, fake_sms
) -> None:  # type: ignore[no-untyped-def]
    posts = plan()
    w = worker(sessionmaker, fake_sms)
    await replay(sessionmaker, w, posts, upto=BURST_START + 6)
    found = await alerts(sessionmaker)
    assert found
    # Acknowledge all but the burst term's alert: only that one may escalate.
    async with sessionmaker() as db:
        for a in found:
            if not about_the_burst(a):
                await service.acknowledge(db, a.id, actor="sup1", now=a.notified_at)
        await db.commit()
    target = next(a for a in found if about_the_burst(a))
    early = await w.run_once(now=target.notified_at + timedelta(minutes=9, seconds=59))
    assert early.escalated == []
    due = await w.run_once(now=target.notified_at + timedelta(minutes=10))
    assert due.escalated == [target.id]
    again = await w.run_once(now=target.notified_at + timedelta(minutes=30))
    assert again.escalated == [], "escalated once"
    async with sessionmaker() as db:
        row = await db.get(CrisisAlert, target.id)
        level1 = (await db.scalars(select(CrisisNotice).where(CrisisNotice.level == 1))).all()
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "crisis.escalate"))
    assert row is not None and row.state == "escalated" and row.escalated_by == "system"
    assert [(n.alert_id, n.address) for n in level1] == [(target.id, "13800000002")]
    assert fake_sms.queued[-1]["to"] == "13800000002"
    assert audit is not None and audit.target == f"crisis_alert:{target.id}"
    # Acknowledged after escalating: recorded, and the clock does nothing more.
    async with sessionmaker() as db:
        acked = await service.acknowledge(db, target.id, actor="head", now=row.escalated_at)
        await db.commit()
    assert acked.state == "acknowledged" and acked.acknowledged_by == "head"


async def test_streams_that_catch_up_one_after_another_are_read_in_time_order(
    sessionmaker, fake_sms, fake_wechat
) -> None:  # type: ignore[no-untyped-def]
    """A channel catching up stores a whole stream, then the next (its mentions for the last
    hour, then its search for the same hour): stored out of time order, read in it."""
    posts = plan()
    # Two "streams", each oldest first over the same hour: the mentions (background) stored
    # first, then the search that carries the rumour.
    other = [p for p in posts if BURST_TERM in p.keywords]
    one = [p for p in posts if BURST_TERM not in p.keywords]
    async with sessionmaker() as db:
        await store(db, one)
        await store(db, other, start=len(one))
    w = worker(sessionmaker, fake_sms, fake_wechat, ack_minutes=60)
    await w.run_once(now=T0 + timedelta(minutes=60))
    found = await alerts(sessionmaker)
    assert sum(map(about_the_burst, found)) == 1
    assert [a.term for a in found if not about_the_burst(a)] == []  # no alert from the jumps
    alert = next(a for a in found if about_the_burst(a))
    assert alert.started_at <= alert.raised_at <= T0 + timedelta(minutes=BURST_START + 5)
