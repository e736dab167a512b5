"""The assistant's one appended offer on SMS: after a bill query, when the policy allows; never
to a number that replied TD or never consented to marketing, an angry customer or past the
monthly cap; a failing hook never
costs the customer the answer."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from kefu.assistant.engine import Assistant
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.crosssell.arbitration import MONTHLY_CAP
from kefu.crosssell.assistant_offer import AssistantOffer
from kefu.crosssell.models import OfferOutcome
from kefu.crosssell.service import ModelState, offers_for, record_outcome
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer
from kefu.messaging.contract import Turn
from kefu.outbound.models import Consent, OptOut
from tests.conftest import seed_sync
from tests.crosssell.helpers import models

TODAY = date(2026, 6, 30)


async def _scenario(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    state = ModelState(models({p: 0.5 for p in ("INS-ACC", "INS-HEALTH", "CARD-INST")}), None)
    hook = AssistantOffer(bank, state=state)
    try:
        phones = []
        async with sessions() as db, db.begin():
            for no in ("C0000000001", "C0000000002", "C0000000003"):
                profile = await bank.get_customer(no)
                customer = Customer(bank_customer_no=no)
                db.add(customer)
                await db.flush()
                db.add(ChannelIdentity(kind="phone", value=profile.mobile, customer_id=customer.id))
                phones.append(profile.mobile)
            db.add(OptOut(kind="phone", value=phones[1], source="sms"))
            for phone in phones:  # consent to marketing; the opt-out above still wins
                db.add(Consent(phone=phone, kind="marketing", source="branch", recorded_by="t"))
            # A fourth customer who never consented to marketing.
            profile = await bank.get_customer("C0000000004")
            silent = Customer(bank_customer_no="C0000000004")
            db.add(silent)
            await db.flush()
            db.add(ChannelIdentity(kind="phone", value=profile.mobile, customer_id=silent.id))
            no_consent = profile.mobile

        async def ask(phone: str, text: str, assistant: Assistant) -> list[str]:
            async with sessions() as db, db.begin():
                turn = Turn(channel="sms", contact=phone, text=text, today=TODAY)
                return (await assistant.handle(db, turn)).texts

        assistant = Assistant(bank, offer=hook)
        texts = await ask(phones[0], "查3月账单", assistant)
        assert len(texts) == 1 and "\n温馨提示：" in texts[0] and "账单" in texts[0]
        # Not after a greeting, not to the number that replied TD, not without consent.
        assert "温馨提示" not in (await ask(phones[0], "你好", assistant))[0]
        assert "温馨提示" not in (await ask(phones[1], "查3月账单", assistant))[0]
        assert "温馨提示" not in (await ask(no_consent, "查3月账单", assistant))[0]
        # An angry customer: the hook is told the sentiment and says no.
        async with sessions() as db:
            assert await hook(db, channel="sms", contact=phones[0], identity_kind="phone",
                              intent="bill.query", sentiment="negative") is None  # fmt: skip
        # Once a day: the next bill query today gets the answer alone.
        assert "温馨提示" not in (await ask(phones[0], "查3月账单", assistant))[0]
        # The monthly cap: offers already made this month (by agents or the assistant).
        async with sessions() as db:  # without the cap, this customer has an offer
            panel = await offers_for(db, bank, "C0000000003", state=state)
            assert panel.decision is not None and panel.decision.offers
        async with sessions() as db, db.begin():
            for product in ("FUND-IDX", "WM-R2", "INS-PENSION")[:MONTHLY_CAP]:
                await record_outcome(db, customer_no="C0000000003", product_code=product,
                                     outcome="offered", conversation_id=None, agent_id=None)  # fmt: skip
        assert "温馨提示" not in (await ask(phones[2], "查3月账单", assistant))[0]
        async with sessions() as db:
            offered = await db.scalar(select(func.count()).select_from(OfferOutcome).where(
                OfferOutcome.outcome == "offered", OfferOutcome.customer_no == "C0000000001"))  # fmt: skip
        assert offered == 1

        class Broken:
            async def __call__(self, db, **kw):  # type: ignore[no-untyped-def]
                raise RuntimeError("model server down")

        texts = await ask(phones[0], "查3月账单", Assistant(bank, offer=Broken()))  # type: ignore[arg-type]
        assert len(texts) == 1 and "温馨提示" not in texts[0] and "账单" in texts[0]
    finally:
        await engine.dispose()


@pytest.mark.db
def test_assistant_appends_one_offer_when_policy_allows(db_url: str) -> None:
    seed_sync(db_url, 4)
    asyncio.run(_scenario(db_url))
