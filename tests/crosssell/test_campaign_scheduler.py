"""The campaign scheduler: a scheduled campaign starts when its time comes (not before), once
with two processes looking at the same time; a refused start is kept on the campaign and tried
again only after a pause; the background loop stops within a second."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.crosssell.campaigns import scheduler, service
from kefu.crosssell.campaigns.segment import Segment
from kefu.crosssell.models import Campaign
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.outbound import consent
from kefu.outbound.models import SmsTemplate
from kefu.outbound.settings import SmsPolicySettings
from tests.conftest import seed_sync
from tests.crosssell.test_campaigns import PRODUCT, RecordingOutbox, _bind


async def _scenario(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    outbox = RecordingOutbox()
    sending = service.Sending(outbox=outbox, signature="【银行】",
                              policy=SmsPolicySettings(send_hours={}))  # fmt: skip
    at = utcnow().replace(microsecond=0) + timedelta(hours=1)
    try:
        async with sessions() as db, db.begin():
            for _, phone in await _bind(db, bank):
                await consent.give(db, phone=phone, source="branch", actor="test")
            for name, status in (("cs-ok", "approved"), ("cs-pending", "pending")):
                db.add(SmsTemplate(name=name, kind="marketing", body="{product}优惠", status=status,
                                   created_by="a", updated_by="a"))  # fmt: skip
            ids = {}
            for code, (name, template) in enumerate(
                [("due", "cs-ok"), ("pending", "cs-pending"), ("looped", "cs-ok")], start=401
            ):
                ids[name] = (await service.create(
                    db, name=name, product_code=PRODUCT, template_name=template,
                    sub_code=str(code), segment=Segment(), actor="t", seed=2,
                    scheduled_for=at if name != "looped" else at + timedelta(days=1),
                )).id  # fmt: skip

        def make() -> service.Sending:
            return sending

        assert await scheduler.run_once(sessions, bank, make, now=at - timedelta(minutes=1)) == {}
        # Two processes look at once: each due campaign is started by one of them.
        first, second = await asyncio.gather(
            scheduler.run_once(sessions, bank, make, now=at),
            scheduler.run_once(sessions, bank, make, now=at),
        )
        outcome = first | second
        assert len(first) + len(second) == 2 and outcome[ids["due"]] == "started"
        assert "尚未审批" in outcome[ids["pending"]]
        async with sessions() as db:
            due, pending = (
                await db.get(Campaign, ids["due"]),
                await db.get(Campaign, ids["pending"]),
            )
            assert due is not None and due.status == "running" and due.started_at is not None
            assert pending is not None and pending.status == "draft"
            assert (pending.last_refusal or "").startswith("定时开始未成功")
        sent = len(outbox.sent)
        assert sent > 0 and len({m["idempotency_key"] for m in outbox.sent}) == sent
        # The refused one waits for RETRY before it is tried again.
        soon = at + timedelta(minutes=1)
        assert await scheduler.run_once(sessions, bank, make, now=soon) == {}
        later = at + scheduler.RETRY + timedelta(minutes=1)
        assert list(await scheduler.run_once(sessions, bank, make, now=later)) == [ids["pending"]]

        # The loop: starts the campaign whose time came, and stops within a second.
        async with sessions() as db, db.begin():
            looped = await db.get(Campaign, ids["looped"])
            looped.scheduled_for = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]
        running = scheduler.start(sessions, bank, make, interval=0.05)
        status = "draft"
        for _ in range(200):
            await asyncio.sleep(0.05)
            async with sessions() as db:
                status = await db.scalar(select(Campaign.status).where(
                    Campaign.id == ids["looped"]))  # fmt: skip
            if status == "running":
                break
        began = time.monotonic()
        await running.stop()
        assert time.monotonic() - began < 1.0
        assert status == "running" and running.task.done()
    finally:
        await engine.dispose()


@pytest.mark.db
def test_scheduler_starts_due_campaigns_once(db_url: str) -> None:
    seed_sync(db_url, 4)
    asyncio.run(_scenario(db_url))


async def test_the_apps_scheduler_sends_through_the_wechat_channel_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runtime hands the scheduler the WeChat channel's outbound, so queued WeChat members
    are sent on every pass (not only by the start route, in a process that runs WeChat)."""
    from kefu import runtime
    from kefu.channels.manifest import ChannelContext
    from kefu.config import load_settings

    captured = {}

    class Loop:
        async def stop(self) -> None:
            return None

    def fake_start(sessionmaker, bank, sending, **_):  # type: ignore[no-untyped-def]
        captured["sending"] = sending
        return Loop()

    monkeypatch.setattr(scheduler, "start", fake_start)
    wechat = object()
    settings = load_settings(campaign_scheduler_interval=30)
    ctx = ChannelContext(settings=settings, sessionmaker=None, pipeline=None,  # type: ignore[arg-type]
                         services={"bank": object(), "wechat_outbound": wechat})  # fmt: skip
    assert await runtime._start_campaigns(ctx) is not None
    assert captured["sending"]().wechat is wechat
