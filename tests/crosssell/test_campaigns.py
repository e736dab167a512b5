"""Campaigns: the refusals (unapproved template, empty segment, audience over the cap, a
second start — also two at once), the seeded hold-out, the sends through the governed outbound
(consent and TD honoured), replies on the campaign's sub-code, attribution and the report."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.bank.models import Holding
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.conversations.models import Conversation
from kefu.crosssell.campaigns import arms, report, service
from kefu.crosssell.campaigns.replies import reply_kind, to_campaign
from kefu.crosssell.campaigns.segment import BadSegment, Segment, build
from kefu.crosssell.models import Campaign, CampaignMember, OfferOutcome
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer
from kefu.messaging.contract import InboundMessage
from kefu.outbound import consent
from kefu.outbound.models import OptOut, SmsTemplate
from kefu.outbound.settings import SmsPolicySettings
from tests.conftest import seed_sync

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: inside marketing hours
PRODUCT = "INS-ACC"


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (56/70 vs 48/80),
    # method 10 (hybrid score): 0.0524 to 0.3339.
    result = report.uplift(70, 56, 80, 48)
    assert result is not None
    assert result.uplift == pytest.approx(0.2)
    assert result.low == pytest.approx(0.0524, abs=1e-4)
    assert result.high == pytest.approx(0.3339, abs=1e-4)
    assert report.uplift(10, 1, 0, 0) is None


def test_roi_counts_incremental_conversions_only() -> None:
    result = report.uplift(1000, 60, 1000, 40)
    money = report.money(result, messages=1000, cost_per_message=0.03, value_per_conversion=50)
    assert money.cost == pytest.approx(30.0)
    assert money.incremental == pytest.approx(20.0)
    assert money.roi == pytest.approx((20 * 50 - 30) / 30)


def test_arms_are_seeded_and_kept_in_proportion() -> None:
    drawn = [arms.arm(7, f"C{i:010d}", 0.2)[0] for i in range(4000)]
    assert drawn == [arms.arm(7, f"C{i:010d}", 0.2)[0] for i in range(4000)]
    assert 0.17 < drawn.count(arms.HOLDOUT) / 4000 < 0.23
    assert drawn != [arms.arm(8, f"C{i:010d}", 0.2)[0] for i in range(4000)]


def test_reply_words() -> None:
    assert reply_kind("1") == "interested" and reply_kind("是") == "interested"
    assert reply_kind("ＴＤ") == "opted_out" and reply_kind("退订") == "opted_out"
    assert reply_kind("多少钱") == "other"


@dataclass
class RecordingOutbox:
    links: dict[str, Any] = field(
        default_factory=lambda: {"main": type("L", (), {"service_number": "95511"})()}
    )
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def enqueue(self, db: Any, **message: Any) -> None:
        self.sent.append(message)


class OpeningBank:
    """The synthetic bank, plus products opened after the campaign (the planted outcome)."""

    def __init__(self, bank: SyntheticBank, opened: dict[str, date]) -> None:
        self.bank, self.opened = bank, opened

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bank, name)

    async def list_holdings(self, customer_no: str) -> list[Holding]:
        held = await self.bank.list_holdings(customer_no)
        if customer_no in self.opened:
            held.append(Holding(customer_no=customer_no, product_code=PRODUCT, product_name="x",
                                category="insurance", amount=100, since=self.opened[customer_no]))  # fmt: skip
        return held


async def _bind(session, bank: SyntheticBank) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Binds a phone to each of the bank's customers not yet known to kefu."""
    bound = []
    for i in range(await bank.count_customers()):
        customer_no = f"C{i + 1:010d}"
        profile = await bank.get_customer(customer_no)
        customer = await session.scalar(
            select(Customer).where(Customer.bank_customer_no == customer_no)
        )
        if customer is None:
            customer = Customer(bank_customer_no=customer_no)
            session.add(customer)
            await session.flush()
        if not await session.scalar(select(ChannelIdentity.id).where(
                ChannelIdentity.kind == "phone", ChannelIdentity.value == profile.mobile)):  # fmt: skip
            session.add(
                ChannelIdentity(kind="phone", value=profile.mobile, customer_id=customer.id)
            )
        bound.append((customer_no, profile.mobile))
    await session.flush()
    return bound


async def _scenario(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    outbox = RecordingOutbox()
    sending = service.Sending(outbox=outbox, policy=SmsPolicySettings(), signature="【银行】")
    try:
        async with sessions() as db, db.begin():
            bound = await _bind(db, bank)
            phones = [p for _, p in bound]
            for phone in phones[2:]:
                await consent.give(db, phone=phone, source="branch", actor="test")
            db.add(OptOut(kind="phone", value=phones[2], source="sms"))
            db.add(SmsTemplate(name="cs-acc", kind="marketing", body="{product}限时优惠，回复1了解",
                               status="approved", created_by="a", updated_by="a"))  # fmt: skip
            db.add(SmsTemplate(name="cs-draft", kind="marketing", body="草稿", status="pending",
                               created_by="a", updated_by="a"))  # fmt: skip
            made = {}
            for name, template, segment, cap in [
                ("unapproved", "cs-draft", Segment(), 5000),
                ("empty", "cs-acc", Segment(age_min=119), 5000),
                ("too-big", "cs-acc", Segment(), 1),
                ("good", "cs-acc", Segment(), 5000),
            ]:
                made[name] = (await service.create(
                    db, name=name, product_code=PRODUCT, template_name=template,
                    sub_code=str(100 + len(made)), segment=segment, actor="t",
                    holdout_share=0.3, seed=1, max_audience=cap, value_per_conversion=80,
                )).id  # fmt: skip
        with pytest.raises(service.CampaignRefused, match="已被其他活动使用"):
            async with sessions() as db, db.begin():
                await service.create(db, name="good", product_code=PRODUCT, sub_code="999",
                                     template_name="cs-acc", segment=Segment(), actor="t")  # fmt: skip
        for name, words in [("unapproved", "尚未审批"), ("empty", "客户细分为空"),
                            ("too-big", "超过本活动上限")]:  # fmt: skip
            with pytest.raises(service.CampaignRefused, match=words):
                async with sessions() as db, db.begin():
                    await service.start(db, bank, made[name], sending, actor="t", now=NOON)
        await _analytics_segment(sessions, bank, bound)
        with pytest.raises(service.CampaignRefused, match="免打扰"):
            async with sessions() as db, db.begin():
                await service.start(db, bank, made["good"], sending, actor="t",
                                    now=NOON + timedelta(hours=12))  # fmt: skip
        assert not outbox.sent

        # Two starts at once: exactly one goes through, the other is refused.
        async def one() -> object:
            try:
                async with sessions() as db, db.begin():
                    return await service.start(db, bank, made["good"], sending, actor="t", now=NOON)
            except service.CampaignRefused as exc:
                return exc

        results = await asyncio.gather(one(), one())
        started = [r for r in results if isinstance(r, service.Started)]
        refused = [r for r in results if isinstance(r, service.CampaignRefused)]
        assert len(started) == 1 and len(refused) == 1, results
        assert "不能再次开始" in refused[0].reason
        result = started[0]
        async with sessions() as db:
            members = (await db.scalars(select(CampaignMember).where(
                CampaignMember.campaign_id == made["good"]))).all()  # fmt: skip
        assert len(members) == len(bound) == result.treated + result.holdout
        for m in members:
            assert m.arm == arms.arm(1, m.customer_no, 0.3)[0]
        treated = {m.phone: m for m in members if m.arm == arms.TREATED}
        # Consent missing for the first two numbers, the third replied TD: not sent.
        for phone in phones[:3]:
            if phone in treated:
                assert treated[phone].state == "refused"
        assert {s["to"] for s in outbox.sent} == {
            p for p, m in treated.items() if m.state == "queued"
        }
        assert len(outbox.sent) == result.queued > 0
        assert all(s["service_number"] == "95511103" and "回复1了解" in s["text"]
                   and s["kind"] == "marketing" for s in outbox.sent)  # fmt: skip
        assert len({s["idempotency_key"] for s in outbox.sent}) == len(outbox.sent)

        # Replies on the sub-code: 1 opens a lead once; TD is recorded and left to the hall.
        yes, no = sorted(p for p, m in treated.items() if m.state == "queued")[:2]
        async with sessions() as db, db.begin():
            routed = await to_campaign(db, _text(yes, "1"))
            again = await to_campaign(db, _text(yes, "是"))
            td = await to_campaign(db, _text(no, "TD"))
            other_code = await to_campaign(db, InboundMessage(
                channel="sms", account="main", sender=yes, text="1", metadata={"sub_code": "77"}))  # fmt: skip
        assert routed is not None and routed.meta["conversation_id"]
        assert again is not None and again.meta.get("repeat") and td is None and other_code is None
        async with sessions() as db:
            lead = await db.get(Conversation, routed.meta["conversation_id"])
            assert lead is not None and "有意向" in lead.subject
            replies = dict((await db.execute(select(CampaignMember.phone, CampaignMember.reply)
                                             .where(CampaignMember.reply.is_not(None)))).all())  # fmt: skip
            assert replies == {yes: "interested", no: "opted_out"}
            assert await db.scalar(select(func.count()).select_from(OfferOutcome).where(
                OfferOutcome.outcome == "interested")) == 1  # fmt: skip

        # Attribution: opened within the window counts, before the start or after it does not.
        customers = sorted(m.customer_no for m in members)
        opened = {customers[0]: NOON.date() + timedelta(days=3),
                  customers[1]: NOON.date() - timedelta(days=3),
                  customers[2]: NOON.date() + timedelta(days=40)}  # fmt: skip
        async with sessions() as db, db.begin():
            campaign = await db.get(Campaign, made["good"])
            assert campaign is not None
            converted = await service.attribute(db, OpeningBank(bank, opened), campaign,
                                                now=NOON + timedelta(days=31))  # fmt: skip
            assert converted == 1 and campaign.status == "finished"
        async with sessions() as db:
            campaign = await db.get(Campaign, made["good"])
            rep = await service.campaign_report(db, campaign)  # type: ignore[arg-type]
        assert rep.result is not None
        assert rep.result.treated_n == result.treated and rep.result.holdout_n == result.holdout
        assert rep.result.treated_converted + rep.result.holdout_converted == 1
        assert rep.money.messages == result.queued
        assert rep.money.cost == pytest.approx(result.queued * 0.03)
    finally:
        await engine.dispose()


async def _analytics_segment(sessions, bank, bound) -> None:  # type: ignore[no-untyped-def]
    """A saved analytics segment narrows the audience to its members; an unknown one is
    refused with its number."""
    segments = pytest.importorskip("kefu.analytics.segments")
    async with sessions() as db, db.begin():
        saved = await segments.save_segment(db, name="流失风险", actor="t",
                                            customer_nos=[c for c, _ in bound[:4]])  # fmt: skip
        picked = await build(db, bank, Segment(analytics_segment=saved.id),
                             product_code=PRODUCT, models=None, today=NOON.date())  # fmt: skip
        assert {c.customer_no for c in picked.members} <= {c for c, _ in bound[:4]}
        assert picked.members
        with pytest.raises(BadSegment, match="没有编号为 999"):
            await build(db, bank, Segment(analytics_segment=999), product_code=PRODUCT,
                        models=None, today=NOON.date())  # fmt: skip


def _text(phone: str, text: str) -> InboundMessage:
    return InboundMessage(channel="sms", account="main", sender=phone, text=text,
                          metadata={"sub_code": "103"})  # fmt: skip


@pytest.mark.db
def test_campaign_refusals_start_replies_and_report(db_url: str) -> None:
    seed_sync(db_url, 12)
    asyncio.run(_scenario(db_url))
