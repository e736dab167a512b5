"""Campaign gaps: two campaigns started at once over the same customers count the outbound
caps under the send API's lock (a number capped at one marketing text a day gets one);
partners and campaigns cannot take each other's reply sub-code."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.sms.models import SmsMessage
from kefu.crosssell.campaigns import service
from kefu.crosssell.campaigns.segment import Segment
from kefu.crosssell.models import CampaignMember
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.outbound import consent
from kefu.outbound.models import SmsTemplate
from kefu.outbound.settings import SmsPolicySettings
from kefu.partners.service import PartnerError, PartnerTerms, create_partner
from tests.conftest import seed_sync
from tests.crosssell.test_campaigns import PRODUCT, _bind


@dataclass
class TableOutbox:
    """Writes the outbox rows the caps are counted from, as the SMS gateway's outbox does."""

    links: dict[str, Any] = field(
        default_factory=lambda: {"main": type("L", (), {"service_number": "95511"})()}
    )

    async def enqueue(self, db: Any, **m: Any) -> None:
        db.add(SmsMessage(direction="out", link="main", phone=m["to"], text=m["text"],
                          service_number=m["service_number"], kind=m["kind"], state="accepted",
                          dedupe_key=f"out:{m['idempotency_key']}"))  # fmt: skip


async def _scenario(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    # No quiet hours, so the real clock (the one the outbox rows carry) may be used.
    sending = service.Sending(outbox=TableOutbox(), signature="【银行】",
                              policy=SmsPolicySettings(send_hours={}))  # fmt: skip
    try:
        async with sessions() as db, db.begin():
            bound = await _bind(db, bank)
            for _, phone in bound:
                await consent.give(db, phone=phone, source="branch", actor="test")
            db.add(SmsTemplate(name="cs-race", kind="marketing", body="{product}优惠，回复1了解",
                               status="approved", created_by="a", updated_by="a"))  # fmt: skip
            ids = [(await service.create(
                db, name=f"race-{code}", product_code=PRODUCT, template_name="cs-race",
                sub_code=code, segment=Segment(), actor="t", holdout_share=0.01, seed=3,
            )).id for code in ("201", "202")]  # fmt: skip

        async def start(campaign_id: int) -> service.Started:
            async with sessions() as db, db.begin():
                return await service.start(db, bank, campaign_id, sending, actor="t")

        results = await asyncio.gather(*(start(i) for i in ids))
        async with sessions() as db:
            per_phone = dict((await db.execute(
                select(SmsMessage.phone, func.count()).where(SmsMessage.kind == "marketing")
                .group_by(SmsMessage.phone))).all())  # fmt: skip
            capped = await db.scalar(select(func.count()).select_from(CampaignMember).where(
                CampaignMember.state == "refused"))  # fmt: skip
        both = {p for _, p in bound}  # every customer is treated in both (hold-out 1 %)
        assert sum(r.treated for r in results) == 2 * len(both), results
        # Cap of one marketing text a day: each number got exactly one, from one campaign, and
        # the other campaign's start found it counted and refused it.
        assert per_phone == {p: 1 for p in both}
        assert sum(r.queued for r in results) == len(both) and capped == len(both)

        # Sub-codes: a partner cannot take a campaign's, nor a campaign a partner's.
        async with sessions() as db, db.begin():
            with pytest.raises(PartnerError, match="campaign") as refused:
                await create_partner(db, name="ins-co", sub_code="201", terms=PartnerTerms("保险"),
                                     actor="t")  # fmt: skip
            assert refused.value.status == 409
            await create_partner(db, name="ins-co", sub_code="301", terms=PartnerTerms("保险"),
                                 actor="t")  # fmt: skip
        async with sessions() as db, db.begin():
            with pytest.raises(service.CampaignRefused, match="合作方"):
                await service.create(db, name="race-3", product_code=PRODUCT, sub_code="301",
                                     template_name="cs-race", segment=Segment(), actor="t")  # fmt: skip
    finally:
        await engine.dispose()


@pytest.mark.db
def test_racing_starts_hold_the_cap_and_sub_codes_are_exclusive(db_url: str) -> None:
    seed_sync(db_url, 6)
    asyncio.run(_scenario(db_url))
