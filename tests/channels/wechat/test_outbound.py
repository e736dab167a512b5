"""Outbound: templates only to subscribed customers, 45015 falling back per policy, agents'
replies relayed through custom-send with their delivery state."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kefu.channels.wechat.models import WechatOutbound
from kefu.channels.wechat.simulator.follower import post_callback, text_xml
from kefu.conversations.models import Conversation, Message
from kefu.subscriptions.service import Service, subscribe
from kefu.vocabulary import DeliveryState, Direction, SenderType
from tests.channels.sms.test_gateway import eventually
from tests.channels.wechat.harness import bind_openid, client, database, running

pytestmark = pytest.mark.db


async def _hello(kefu, http, openid: str) -> None:  # type: ignore[no-untyped-def]
    """The follower writes (WeChat knows them; kefu gets a follower row)."""
    kefu.follow(openid)
    target = kefu.target()
    await post_callback(http, target, text_xml(target, openid, "你好", hash(openid) % 10**9))


async def test_templates_follow_the_subscription(seeded_url: str) -> None:
    customer_id = await bind_openid(seeded_url, "o-notify", "C0000000003")
    async with running(seeded_url) as kefu, client() as http:
        await _hello(kefu, http, "o-notify")  # a follower row for the account
        outbound = kefu.app.state.wechat_runtime.outbound
        data = {"first": "您的3月账单已出", "keyword1": "¥1,234.00"}
        assert await outbound.notify("bank", customer_id=customer_id, kind="bill_ready",
                                     data=data) == []  # fmt: skip
        assert kefu.sim.messages(touser="o-notify") == []
        async with database(seeded_url) as db:
            await subscribe(db, customer_id=customer_id, service=Service.BILL_READY,
                            channel="wechat", actor="test")  # fmt: skip
            await db.commit()
        ids = await outbound.notify("bank", customer_id=customer_id, kind="bill_ready",
                                    data=data, url="https://bank.example/h5/bank/bill")  # fmt: skip
        assert len(ids) == 1
        sent = kefu.sim.messages(touser="o-notify")
        assert [s.body["template_id"] for s in sent] == ["TPL-BILL"]
        with pytest.raises(ValueError, match="kind"):
            await outbound.notify("bank", customer_id=customer_id, kind="lottery", data=data)
    async with database(seeded_url) as db:
        row = await db.get(WechatOutbound, ids[0])
        assert row.state == "sent" and row.wechat_msgid


async def test_outside_the_window_a_template_carries_the_reply(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        await _hello(kefu, http, "o-late")
        kefu.sim.followers[(kefu.accounts[0].app_id, "o-late")].last_interaction = 0  # 48 h ago
        outbound = kefu.app.state.wechat_runtime.outbound
        ok = await outbound.send_answer(kefu.accounts[0], "o-late",
                                        {"type": "text", "content": "您的问题已处理"},
                                        purpose="agent_reply")  # fmt: skip
        assert ok
        sent = kefu.sim.messages(touser="o-late")
        assert [(s.kind, s.body["template_id"]) for s in sent] == [("template", "TPL-REPLY")]
    async with database(seeded_url) as db:
        rows = (await db.scalars(select(WechatOutbound).order_by(WechatOutbound.id))).all()
    assert [(r.kind, r.state, r.errcode) for r in rows] == [
        ("custom", "failed", 45015), ("template", "sent", None)]  # fmt: skip
    assert rows[1].fallback_of == rows[0].id


async def test_agent_replies_go_out_by_custom_send(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        kefu.follow("o-agent")
        target = kefu.target()
        await post_callback(http, target, text_xml(target, "o-agent", "转人工", 424242))
        async with database(seeded_url) as db:
            conversation = await db.scalar(
                select(Conversation).where(Conversation.contact == "o-agent")
            )
            db.add(Message(conversation_id=conversation.id, channel="wechat",
                           direction=Direction.OUTBOUND.value, sender_type=SenderType.AGENT.value,
                           body="您好，我是客服小李", delivery_state=DeliveryState.ACCEPTED.value))  # fmt: skip
            await db.commit()
        await eventually(lambda: kefu.sim.messages(touser="o-agent"), timeout=20.0)
        sent = kefu.sim.messages(touser="o-agent")
        assert [s.body["content"] for s in sent] == ["您好，我是客服小李"]
        await asyncio.sleep(0.3)
    async with database(seeded_url) as db:
        message = await db.scalar(select(Message).where(Message.body == "您好，我是客服小李"))
    assert message.delivery_state == "sent" and message.external_id.startswith("wechat:")


async def test_outside_the_window_an_sms_carries_the_reply_when_policy_says_so(
    seeded_url: str,
) -> None:
    from kefu.assistant.engine import Assistant
    from kefu.bank.synthetic.adapter import SyntheticBank
    from kefu.channels.sms.gateway import SmsGateway
    from kefu.channels.sms.models import SmsMessage
    from kefu.channels.wechat.outbound import Outbound
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.messaging.pipeline import Pipeline
    from kefu.runtime import BankDirectory
    from tests.channels.wechat.harness import account

    await bind_openid(seeded_url, "o-sms", "C0000000004")
    sms_account = account(window_fallback="sms")
    async with running(seeded_url, [sms_account]) as kefu, client() as http:
        await _hello(kefu, http, "o-sms")
        kefu.sim.followers[(sms_account.app_id, "o-sms")].last_interaction = 0
        engine = make_engine(seeded_url)
        sessionmaker = make_sessionmaker(engine)
        bank = SyntheticBank(engine)
        # The real gateway's outbox (no carrier link: the SMS is stored, to be sent by a link).
        sms = SmsGateway(links=[], sessionmaker=sessionmaker, pipeline=Pipeline(Assistant(bank)))
        runtime = kefu.app.state.wechat_runtime
        outbound = Outbound(accounts={"bank": sms_account}, apis=runtime.apis,
                            sessionmaker=sessionmaker, directory=BankDirectory(bank), sms=sms)  # fmt: skip
        try:
            ok = await outbound.send_answer(sms_account, "o-sms",
                                            {"type": "text", "content": "您的问题已处理"},
                                            purpose="agent_reply")  # fmt: skip
            assert ok
            profile = await bank.get_customer("C0000000004")
            async with sessionmaker() as db:
                texts = (await db.scalars(
                    select(SmsMessage.text).where(SmsMessage.phone == profile.mobile)
                )).all()  # fmt: skip
            assert any("您的问题已处理" in t for t in texts)
        finally:
            await engine.dispose()
