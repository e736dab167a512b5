"""The SMS hall end to end: a handset texts the carrier simulator, the gateway answers from
the bank through a real carrier protocol on a loopback socket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.sms.config import SmsLink, SmsRoute
from kefu.channels.sms.gateway import SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.conversations.models import Conversation
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.protocols.factory import make_simulator
from kefu.protocols.message import Inbound
from kefu.protocols.simulator import SimulatorConfig
from kefu.runtime import make_pipeline
from tests.conftest import AS_OF, seed_sync

pytestmark = pytest.mark.db
CREDENTIALS = {
    "smpp": ("kefu", "secret"),
    "cmpp3": ("900001", "888888"),
    "smgp": ("10001", "secret"),
}
SIGNATURE = "【kefu银行】"


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def bank_url(db_url: str) -> str:
    seed_sync(db_url, 30)
    return db_url


class Hall:
    def __init__(self, protocol: str, url: str) -> None:
        self.protocol = protocol
        user, secret = CREDENTIALS[protocol]
        self.sim = make_simulator(
            protocol, SimulatorConfig(user, secret, report_delay=0.05, seed=3)
        )
        self.engine = make_engine(url)
        self.factory = make_sessionmaker(self.engine)
        self.bank = SyntheticBank(self.engine)
        self.user, self.secret = user, secret

    async def start(self, routes: list[SmsRoute] | None = None) -> SmsGateway:
        await self.sim.start()
        link = SmsLink(name="carrier", protocol=self.protocol, port=self.sim.port,
                       username=self.user, password=self.secret)  # fmt: skip
        self.gateway = SmsGateway(links=[link], sessionmaker=self.factory, pipeline=make_pipeline(self.bank, today=lambda: AS_OF),
                                  signature=SIGNATURE, routes=routes or [])  # fmt: skip
        await self.gateway.start()
        await eventually(lambda: self.gateway.clients["carrier"].connected)
        return self.gateway

    async def text(self, phone: str, body: str, dest: str = "95511") -> str:
        before = len(self.sim.mt_for(phone))
        await self.sim.inject_mo(phone, dest, body)
        await eventually(lambda: len(self.sim.mt_for(phone)) > before)
        return self.sim.mt_for(phone)[-1].text

    async def close(self) -> None:
        await self.gateway.stop()
        await self.sim.stop()
        await self.engine.dispose()


@pytest.mark.parametrize("protocol", ["smpp", "cmpp3"])
async def test_march_bill_through_a_real_carrier_protocol(bank_url: str, protocol: str) -> None:
    hall = Hall(protocol, bank_url)
    await hall.start()
    try:
        profile = None
        for n in range(1, 31):
            candidate = await hall.bank.get_customer(f"C{n:010d}")
            if any(c.kind == "credit" for c in await hall.bank.list_cards(candidate.customer_no)):
                profile = candidate
                break
        assert profile is not None
        phone = profile.mobile
        assert "BD" in await hall.text(phone, "查余额")
        code_sms = await hall.text(phone, "BD")
        code = re.search(r"验证码(\d{6})", code_sms).group(1)
        assert "绑定成功" in await hall.text(phone, f"{profile.id_number[-4:]} {code}")
        bill_sms = await hall.text(phone, "我要查3月的账单")
        assert bill_sms.startswith(SIGNATURE) and "2026年3月账单" in bill_sms
        card = next(
            c for c in await hall.bank.list_cards(profile.customer_no) if c.kind == "credit"
        )
        bill = await hall.bank.get_bill(card.card_no, "2026-03")
        assert f"¥{bill.total:,.2f}" in bill_sms

        # Every reply is stored, sent and then confirmed by the carrier's status report.
        async def all_delivered() -> bool:
            async with hall.factory() as db:
                states = (
                    await db.scalars(select(SmsMessage.state).where(SmsMessage.direction == "out"))
                ).all()
            return len(states) == 4 and set(states) == {"delivered"}

        await eventually(all_delivered)
    finally:
        await hall.close()


async def test_help_menu_for_unknown_text_and_sub_code_routing(bank_url: str) -> None:
    hall = Hall("smpp", bank_url)
    await hall.start(routes=[SmsRoute(sub_code="5566", service="agents", label="信用卡活动咨询")])
    try:
        assert "ZD账单" in await hall.text("13700000001", "hello?")
        assert "人工" in await hall.text("13700000001", "活动怎么参加", dest="955115566")
        async with hall.factory() as db:
            conversation = await db.scalar(select(Conversation))
        assert conversation is not None and conversation.subject == "信用卡活动咨询"
    finally:
        await hall.close()


async def test_a_carrier_redelivery_is_answered_once(bank_url: str) -> None:
    hall = Hall("smpp", bank_url)
    gateway = await hall.start()
    try:
        mo = Inbound(kind="mo", source="13700000002", dest="95511", text="H", message_ids=["abc-1"])
        first = await gateway.receive_mo("carrier", mo)
        second = await gateway.receive_mo("carrier", mo)
        assert first is not None and second is None
        async with hall.factory() as db:
            replies = (
                await db.scalars(select(SmsMessage).where(SmsMessage.direction == "out"))
            ).all()
        assert len(replies) == 1
    finally:
        await hall.close()


async def test_idempotency_key_and_report_matching(bank_url: str) -> None:
    hall = Hall("smpp", bank_url)
    gateway = await hall.start()
    try:
        async with hall.factory() as db:
            first = await gateway.enqueue(db, to="13700000003", text="您的账单已出", kind="notification",
                                          idempotency_key="bill-2026-03-C1")  # fmt: skip
            again = await gateway.enqueue(db, to="13700000003", text="您的账单已出", kind="notification",
                                          idempotency_key="bill-2026-03-C1")  # fmt: skip
            await db.commit()
        assert first.id == again.id
        await eventually(lambda: hall.sim.mt_for("13700000003"))
        assert len(hall.sim.mt_for("13700000003")) == 1

        async def delivered() -> bool:
            async with hall.factory() as db:
                return (await db.get(SmsMessage, first.id)).state == "delivered"

        await eventually(delivered)
        unknown = Inbound(
            kind="report",
            source="",
            dest="",
            message_id="no-such-id",
            stat="DELIVRD",
            delivered=True,
        )
        assert await gateway.receive_report("carrier", unknown, wait=0.3) is False
    finally:
        await hall.close()


async def test_a_message_for_an_unknown_link_fails_with_the_reason(bank_url: str) -> None:
    hall = Hall("smpp", bank_url)
    gateway = await hall.start()
    try:
        async with hall.factory() as db:
            message = await gateway.enqueue(
                db, to="13700000004", text="x", kind="notification", link="nope"
            )
            await db.commit()

        async def failed() -> str | None:
            async with hall.factory() as db:
                row = await db.get(SmsMessage, message.id)
                return row.error if row.state == "failed" else None

        assert "nope" in await eventually(failed)
    finally:
        await hall.close()


async def test_an_agents_reply_reaches_the_handset_and_its_state_follows(bank_url: str) -> None:
    from kefu.conversations.models import Message
    from kefu.db.base import utcnow
    from kefu.routing import intake

    hall = Hall("cmpp3", bank_url)
    await hall.start()
    try:
        async with hall.factory() as db:
            conversation, _ = await intake.open_conversation(
                db, channel="sms", contact="13700000005", text="人工", now=utcnow()
            )
            reply = Message(conversation_id=conversation.id, channel="sms", direction="out",
                            sender_type="agent", body="您好，我是坐席小李，请问有什么可以帮您？",
                            delivery_state="accepted")  # fmt: skip
            db.add(reply)
            await db.commit()
            reply_id = reply.id
        received = await eventually(lambda: hall.sim.mt_for("13700000005"))
        assert received[0].text == SIGNATURE + "您好，我是坐席小李，请问有什么可以帮您？"

        async def delivered() -> bool:
            async with hall.factory() as db:
                return (await db.get(Message, reply_id)).delivery_state == "delivered"

        await eventually(delivered)
    finally:
        await hall.close()


async def test_the_same_command_later_is_a_new_message(bank_url: str) -> None:
    hall = Hall("smpp", bank_url)
    gateway = await hall.start()
    now = [1_800_000_000.0]
    gateway.clock = lambda: now[0]
    try:
        mo = Inbound(kind="mo", source="13700000006", dest="95511", text="H")
        assert await gateway.receive_mo("carrier", mo) is not None
        assert await gateway.receive_mo("carrier", mo) is None  # a re-delivery seconds later
        now[0] += 120
        assert await gateway.receive_mo("carrier", mo) is not None  # the customer asks again
        with_ids = Inbound(
            kind="mo", source="13700000006", dest="95511", text="H", message_ids=["m-1"]
        )
        assert await gateway.receive_mo("carrier", with_ids) is not None
        now[0] += 3600
        assert await gateway.receive_mo("carrier", with_ids) is None  # the carrier's id decides
    finally:
        await hall.close()
