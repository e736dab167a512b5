"""Subscribing and unsubscribing by SMS: each scenario within five messages (counted)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from kefu.audit.models import AuditEntry
from kefu.db.engine import session_scope
from kefu.identity.binding import customer_for
from kefu.outbound.models import OptOut
from kefu.subscriptions import service as subscriptions
from kefu.subscriptions.service import Service
from tests.assistant.test_scenarios import _bound

pytestmark = pytest.mark.db
SIGNATURE = "【kefu银行】"


async def _subs(world, phone):  # type: ignore[no-untyped-def]
    async with session_scope(world.factory) as db:
        customer = await customer_for(db, kind="phone", value=phone.number)
        return {v.service: v for v in await subscriptions.list_subscriptions(db, customer.id)}


async def test_dy_shows_the_services_then_subscribes_in_four_messages(world) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[0])
    menu = (await phone.say("DY")).texts[0]
    for code in ("ZD", "HK", "YE", "YX"):
        assert code in menu
    assert "尚未订阅" in menu
    assert len(SIGNATURE + menu) <= 134, "two SMS segments with the signature"
    done = (await phone.say("DY HK 5")).texts[0]
    assert "还款到期日前5天" in done and "TD HK" in done
    assert phone.messages == 4, phone.log
    subs = await _subs(world, phone)
    assert subs[Service.REPAYMENT_REMINDER].days_before == 5
    assert "还款提醒（前5天）" in (await phone.say("DY")).texts[0]


@pytest.mark.parametrize(
    ("text", "service", "expected"),
    [
        ("DY ZD", Service.BILL_READY, "账单出账后"),
        ("订阅账单", Service.BILL_READY, "账单出账后"),
        ("ＤＹ　ＺＤ", Service.BILL_READY, "账单出账后"),
        ("DY HK", Service.REPAYMENT_REMINDER, "到期日前3天"),  # the default
        ("DY YE 1000", Service.BALANCE_ALERT, "¥1,000.00"),
        ("订阅动账提醒 2,500元", Service.BALANCE_ALERT, "¥2,500.00"),
    ],
)
async def test_one_message_subscribes(world, text: str, service: Service, expected: str) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[1])
    reply = await phone.say(text)
    assert expected in reply.texts[0], reply.texts
    assert phone.messages == 2
    assert service in await _subs(world, phone)


async def test_balance_threshold_and_days_are_kept(world) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[2])
    await phone.say("DY YE 1000")
    assert (await _subs(world, phone))[Service.BALANCE_ALERT].threshold == Decimal("1000.00")
    await phone.say("DY YE 50")  # a change, not a second subscription
    subs = await _subs(world, phone)
    assert subs[Service.BALANCE_ALERT].threshold == Decimal("50.00") and len(subs) == 1
    async with session_scope(world.factory) as db:
        actions = (await db.scalars(select(AuditEntry.action))).all()
    assert actions.count("subscription.subscribe") == 1
    assert actions.count("subscription.change") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("DY HK 30", "1-10天"), ("DY HK 0", "1-10天"), ("DY HK 2.5", "1-10天"),
     ("DY YE 0", "¥1.00-¥1,000,000.00"), ("DY YE 99999999", "¥1.00-¥1,000,000.00"),
     ("DY YE 0.001", "¥1.00-¥1,000,000.00"), ("DY XX", "未识别"), ("DY 5", "未识别")],
)  # fmt: skip
async def test_bad_parameters_are_explained_and_nothing_changes(
    world, text: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[3])
    reply = await phone.say(text)
    assert expected in reply.texts[0], reply.texts
    assert await _subs(world, phone) == {}


async def test_td_one_service_keeps_the_others_and_marketing(world) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[4])
    await phone.say("DY ZD")
    await phone.say("DY HK 5")
    counter = world.phone(phone.number)
    reply = await counter.say("TD ZD")
    assert "已退订账单提醒" in reply.texts[0]
    assert counter.messages == 2
    assert set(await _subs(world, phone)) == {Service.REPAYMENT_REMINDER}
    assert "您未订阅账单提醒" in (await phone.say("取消账单提醒")).texts[0]
    async with session_scope(world.factory) as db:
        assert (await db.scalars(select(OptOut))).all() == []


async def test_plain_td_stops_marketing_and_every_subscription_and_says_so(world) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[5])
    await phone.say("DY ZD")
    await phone.say("DY YE 500")
    counter = world.phone(phone.number)
    text = (await counter.say("TD")).texts[0]
    assert counter.messages == 2
    assert "营销短信" in text and "账单提醒" in text and "动账提醒" in text
    assert "还款提醒" not in text  # it was never subscribed, so it is not named
    assert "验证码" in text  # what keeps coming
    assert await _subs(world, phone) == {}
    async with session_scope(world.factory) as db:
        assert len((await db.scalars(select(OptOut))).all()) == 1
        actions = (await db.scalars(select(AuditEntry.action))).all()
    assert actions.count("subscription.unsubscribe") == 2 and "marketing.opt_out" in actions


@pytest.mark.parametrize("text", ["T", "R", "退订", "td谢谢"])
async def test_every_form_of_td_stops_subscriptions(world, text: str) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[6])
    await phone.say("DY HK")
    reply = await phone.say(text)
    assert "退订成功" in reply.texts[0] and "还款提醒" in reply.texts[0], reply.texts
    assert await _subs(world, phone) == {}


async def test_td_yx_stops_offers_only(world) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[7])
    await phone.say("DY ZD")
    assert "已退订营销短信" in (await phone.say("TD YX")).texts[0]
    assert set(await _subs(world, phone)) == {Service.BILL_READY}
    assert "订阅成功" in (await phone.say("DY YX")).texts[0]
    async with session_scope(world.factory) as db:
        assert (await db.scalars(select(OptOut))).all() == []


@pytest.mark.parametrize("channel", ["wechat", "webchat"])
async def test_chat_channels_word_opt_out_in_their_own_terms(world, channel: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 23, finding 9: TD on WeChat answered with SMS words (营销短信, 回复DY). A chat
    channel says 消息推送 and names the words that really turn offers back on."""
    follower = world.phone(f"{channel}-follower-1", channel)
    stopped = (await follower.say("TD")).texts[0]
    assert "营销消息推送" in stopped and "短信" not in stopped and "回复DY" not in stopped
    assert "“订阅优惠”" in stopped
    async with session_scope(world.factory) as db:
        assert len((await db.scalars(select(OptOut))).all()) == 1
    resumed = (await follower.say("订阅优惠")).texts[0]  # the words the reply taught
    assert "开启" in resumed and "短信" not in resumed and "“退订优惠”" in resumed
    async with session_scope(world.factory) as db:
        assert (await db.scalars(select(OptOut))).all() == []
    offers_off = (await follower.say("退订优惠")).texts[0]
    assert "营销消息推送" in offers_off and "短信" not in offers_off
    sms = world.phone("13900000001")
    assert "营销短信" in (await sms.say("TD")).texts[0]  # SMS keeps its wording


async def test_an_unbound_number_is_asked_to_bind(world) -> None:  # type: ignore[no-untyped-def]
    phone = world.phone(world.profiles[8].mobile)
    assert "BD" in (await phone.say("DY ZD")).texts[0]
    assert "先绑定" in (await phone.say("DY")).texts[0]
    td = (await phone.say("TD")).texts[0]  # opt-out works without binding
    assert "退订成功" in td and "提醒" not in td


async def test_subscriptions_are_per_channel(world) -> None:  # type: ignore[no-untyped-def]
    phone = await _bound(world, world.profiles[9])
    await phone.say("DY ZD")
    async with session_scope(world.factory) as db:
        customer = await customer_for(db, kind="phone", value=phone.number)
        assert await subscriptions.is_subscribed(db, customer.id, Service.BILL_READY, "sms")
        assert not await subscriptions.is_subscribed(db, customer.id, Service.BILL_READY, "wechat")
        assert not await subscriptions.is_subscribed(db, customer.id, Service.BALANCE_ALERT, "sms")
