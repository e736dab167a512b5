"""A campaign's audience obeys the offer panel's hard rules: a fund is never sent to a customer
without a valid risk assessment at least its risk level (suitability), nor to one the product's
eligibility refuses; why they fell out is counted."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.crosssell.campaigns.segment import Segment, build
from kefu.crosssell.features import age_on
from kefu.crosssell.models import RiskAssessment
from kefu.db.engine import make_engine, make_sessionmaker
from tests.conftest import seed_sync
from tests.crosssell.test_campaigns import _bind

FUND = "FUND-IDX"
TODAY = date(2026, 6, 30)


async def _scenario(url: str) -> None:
    engine = make_engine(url)
    bank = SyntheticBank(engine)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            bound = await _bind(db, bank)
            fund = next(p for p in await bank.list_products() if p.code == FUND)
            # Who could take the fund on age alone: not holding it, under 65.
            able = []
            for no, _ in bound:
                held = {h.product_code for h in await bank.list_holdings(no)}
                if (
                    FUND not in held
                    and age_on((await bank.get_customer(no)).birth_date, TODAY) < 65
                ):
                    able.append(no)
            assert len(able) >= 3
            high, low, old = able[0], able[1], able[2]
            db.add(
                RiskAssessment(customer_no=high, level=5, assessed_on=TODAY - timedelta(days=30))
            )
            db.add(RiskAssessment(customer_no=low, level=fund.risk_level - 1,
                                  assessed_on=TODAY - timedelta(days=30)))  # fmt: skip
            db.add(
                RiskAssessment(customer_no=old, level=5, assessed_on=TODAY - timedelta(days=400))
            )
            await db.flush()
            audience = await build(db, bank, Segment(), product_code=FUND, models=None,
                                   today=TODAY)  # fmt: skip
        members = [c.customer_no for c in audience.members]
        # Only the customer assessed recently at or above the fund's risk: never the one below
        # it, the one whose assessment is over a year old, nor anyone never assessed.
        assert members == [high]
        assert audience.skipped["不符合产品准入或适当性规则"] >= len(able) - 1
    finally:
        await engine.dispose()


@pytest.mark.db
def test_campaign_audience_obeys_suitability(db_url: str) -> None:
    seed_sync(db_url, 12)
    asyncio.run(_scenario(db_url))
