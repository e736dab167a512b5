"""Texts to a partner's sub-code (95511 + 5566) reach the partner's callbacks; opt-out words
and texts for a partner with no callback stay with the hall."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.channels.sms.callbacks import MO_EVENT
from kefu.channels.sms.models import SmsMessage
from kefu.outbound.models import OptOut
from kefu.partners import service as partners
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.channels.sms.test_gateway import Hall, bank_url, eventually  # noqa: F401

pytestmark = pytest.mark.db


async def add_partner(hall: Hall, name: str, sub_code: str, callback: bool) -> None:
    async with hall.factory() as db:
        partner = await partners.create_partner(
            db, name=name, sub_code=sub_code, actor="admin",
            terms=partners.PartnerTerms(display_name=name),
        )  # fmt: skip
        key, _ = await partners.create_key(db, partner, actor="admin")
        if callback:
            db.add(WebhookSubscription(name="mo", url="http://partner.test/mo", secret="s",
                                       events=["sms.status", MO_EVENT], owner=f"apikey:{key.name}"))  # fmt: skip
        await db.commit()


async def test_texts_to_a_partners_sub_code(bank_url: str) -> None:  # noqa: F811
    hall = Hall("smpp", bank_url)
    await hall.start()
    try:
        await add_partner(hall, "insurer", "5566", callback=True)
        await add_partner(hall, "silent", "7788", callback=False)
        await hall.sim.inject_mo("13700000011", "955115566", "预约明天上午")

        async def forwarded() -> list[WebhookDelivery]:
            async with hall.factory() as db:
                return list((await db.scalars(select(WebhookDelivery))).all())

        deliveries = await eventually(forwarded)
        data = deliveries[0].payload["data"]
        assert deliveries[0].event == MO_EVENT and len(deliveries) == 1
        assert data["from"] == "13700000011" and data["to"] == "955115566"
        assert data["text"] == "预约明天上午"
        async with hall.factory() as db:
            mo = await db.scalar(select(SmsMessage).where(SmsMessage.id == data["id"]))
            assert mo.state == "answered" and mo.meta["partner"] == "insurer"
        assert hall.sim.mt_for("13700000011") == []  # the partner answers, not the hall

        # TD to the partner's sub-code is the bank's business: recorded and confirmed.
        reply = await hall.text("13700000011", "TD", dest="955115566")
        assert "退订" in reply or "停止" in reply
        async with hall.factory() as db:
            assert await db.scalar(select(OptOut).where(OptOut.value == "13700000011"))
        # A partner with no callback: the hall answers rather than leave it unanswered.
        assert "ZD" in await hall.text("13700000012", "你好", dest="955117788")
        assert len(await forwarded()) == 1
    finally:
        await hall.close()
