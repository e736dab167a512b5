"""Scripted SMS scenarios: each ends within five messages back and forth (counted)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kefu.audit.models import AuditEntry
from kefu.conversations.models import Conversation
from kefu.db.engine import session_scope
from kefu.identity.models import ChannelIdentity
from kefu.outbound.models import OptOut

pytestmark = pytest.mark.db
CODE = re.compile(r"验证码(\d{6})")


def last4(profile) -> str:  # type: ignore[no-untyped-def]
    return profile.id_number[-4:]


async def test_binding_takes_four_messages_and_binds_the_phone(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[0]
    phone = world.phone(profile.mobile)
    reply = await phone.say("BD")
    assert "后4位" in reply.texts[0]
    code = CODE.search(reply.texts[0]).group(1)
    done = await phone.say(f"{last4(profile)} {code}")
    assert "绑定成功" in done.texts[0]
    assert phone.messages == 4, phone.log
    async with session_scope(world.factory) as db:
        identity = await db.scalar(
            select(ChannelIdentity).where(ChannelIdentity.value == profile.mobile)
        )
        assert identity is not None and identity.kind == "phone"
        actions = (await db.scalars(select(AuditEntry.action))).all()
        assert "identity.bind" in actions


async def test_march_bill_in_one_reply(world) -> None:  # type: ignore[no-untyped-def]
    profile = await world.with_cards(credit=1)
    phone = await _bound(world, profile)
    reply = await phone.say("我要查3月的账单")
    assert phone.messages == 2
    text = reply.texts[0]
    cards = [c for c in await world.bank.list_cards(profile.customer_no) if c.kind == "credit"]
    bill = await world.bank.get_bill(cards[0].card_no, "2026-03")
    assert f"尾号{cards[0].card_no[-4:]}" in text and "2026年3月" in text
    assert f"¥{bill.total:,.2f}" in text and f"¥{bill.minimum_due:,.2f}" in text
    assert cards[0].card_no not in text  # never the full number
    assert len(text) <= 134, "fits two SMS segments"


async def test_missing_month_is_asked_back_within_four_messages(world) -> None:  # type: ignore[no-untyped-def]
    profile = await world.with_cards(credit=1)
    phone = await _bound(world, profile)
    assert "哪个月" in (await phone.say("查账单")).texts[0]
    reply = await phone.say("上个月")
    assert "2026年10月" in reply.texts[0]
    assert phone.messages == 4, phone.log


async def test_a_new_command_cancels_the_ask_back(world) -> None:  # type: ignore[no-untyped-def]
    profile = await world.with_cards(credit=1)
    phone = await _bound(world, profile)
    await phone.say("ZD")
    reply = await phone.say("YE")
    assert "余额" in reply.texts[0] and reply.intent == "balance.query"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("YE", "余额"), ("MX", "近3笔"), ("HK", "还"), ("JF", "积分"), ("ED", "额度")],
)
async def test_one_shot_queries(world, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    profile = await world.with_cards(credit=1)
    phone = await _bound(world, profile)
    reply = await phone.say(text)
    assert expected in reply.texts[0], reply.texts
    assert phone.messages == 2


async def test_balance_equals_the_bank(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[2]
    phone = await _bound(world, profile)
    text = (await phone.say("我卡里还有多少钱")).texts[0]
    for account in await world.bank.list_accounts(profile.customer_no):
        assert f"¥{account.balance:,.2f}" in text


async def test_unbound_number_is_told_how_to_bind(world) -> None:  # type: ignore[no-untyped-def]
    phone = world.phone(world.profiles[5].mobile)
    assert "BD" in (await phone.say("查余额")).texts[0]


async def test_unregistered_number_cannot_bind(world) -> None:  # type: ignore[no-untyped-def]
    phone = world.phone("19912345678")
    assert "预留手机号" in (await phone.say("绑定")).texts[0]


async def test_binding_by_card_tail_in_either_order(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[6]
    card = (await world.bank.list_cards(profile.customer_no))[0]
    phone = world.phone(profile.mobile)
    code = CODE.search((await phone.say("绑定")).texts[0]).group(1)
    assert "同时回复" in (await phone.say(code)).texts[0]
    assert "绑定成功" in (await phone.say(f"{code}，{card.card_no[-4:]}")).texts[0]


async def test_wrong_last4_three_times_cancels(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[1]
    phone = world.phone(profile.mobile)
    code = CODE.search((await phone.say("BD")).texts[0]).group(1)
    cards = [c.card_no[-4:] for c in await world.bank.list_cards(profile.customer_no)]
    wrong = next(t for t in ("0000", "1111", "2222") if t not in cards and t != last4(profile))
    assert "不符" in (await phone.say(f"{wrong} {code}")).texts[0]
    assert "不符" in (await phone.say(f"{wrong} {code}")).texts[0]
    assert "取消" in (await phone.say(f"{wrong} {code}")).texts[0]
    # The dialog is over: the right answer now is just an unknown message.
    assert "绑定成功" not in (await phone.say(f"{last4(profile)} {code}")).texts[0]


async def test_wrong_code_five_times_kills_it(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[3]
    phone = world.phone(profile.mobile)
    code = CODE.search((await phone.say("BD")).texts[0]).group(1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert "不正确" in (await phone.say(f"{last4(profile)} {wrong}")).texts[0]
    assert "失效" in (await phone.say(f"{last4(profile)} {wrong}")).texts[0]
    # The right code no longer works either: it is dead, not merely mistyped.
    assert "绑定成功" not in (await phone.say(f"{last4(profile)} {code}")).texts[0]


async def test_card_loss_with_several_cards_in_four_messages(world) -> None:  # type: ignore[no-untyped-def]
    profile = await world.with_cards(credit=1, min_cards=2)
    phone = await _bound(world, profile)
    ask = await phone.say("GS")
    code = re.search(r"(\d{6})（5分钟", ask.texts[0]).group(1)
    credit = next(c for c in await world.bank.list_cards(profile.customer_no) if c.kind == "credit")
    assert credit.card_no[-4:] in ask.texts[0]
    assert "验证码" in (await phone.say(credit.card_no[-4:])).texts[0]  # the code is missing
    done = await phone.say(f"{credit.card_no[-4:]} {code}")
    assert "已挂失" in done.texts[0]
    assert phone.messages == 6, phone.log  # 4 for the report, 2 for the forgotten code
    assert (await world.bank.get_card(credit.card_no)).status == "lost"
    async with session_scope(world.factory) as db:
        assert "card.report_loss" in (await db.scalars(select(AuditEntry.action))).all()


async def test_card_loss_of_the_only_card(world) -> None:  # type: ignore[no-untyped-def]
    profile = await world.with_cards(credit=0)
    phone = await _bound(world, profile)
    confirm = await phone.say("我的卡丢了，要挂失")
    code = CODE.search(confirm.texts[0]).group(1)
    done = await phone.say(code)
    assert "已挂失" in done.texts[0]
    assert phone.messages == 4, phone.log


async def test_transfer_and_complaint_open_conversations(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[4]
    phone = await _bound(world, profile)
    transfer = await phone.say("RG")
    assert transfer.conversation_id and "人工" in transfer.texts[0]
    complaint = await phone.say("你们银行太垃圾了，乱扣我年费，我要投诉")
    assert complaint.intent == "complaint" and "投诉已受理" in complaint.texts[0]
    async with session_scope(world.factory) as db:
        opened = {c.id: c for c in (await db.scalars(select(Conversation))).all()}
        assert (
            opened[complaint.conversation_id].priority > opened[transfer.conversation_id].priority
        )
        assert opened[complaint.conversation_id].customer_id is not None
        # Both are queued for routing to an agent, not merely stored.
        from kefu.routing.models import RoutingTask

        queued = {t.conversation_id for t in (await db.scalars(select(RoutingTask))).all()}
        assert {transfer.conversation_id, complaint.conversation_id} <= queued


async def test_opt_out_and_back_in(world) -> None:  # type: ignore[no-untyped-def]
    phone = world.phone("13900000001")
    assert "退订成功" in (await phone.say("td")).texts[0]
    assert "退订成功" in (await phone.say("ＴＤ")).texts[0]  # full width, repeated: still fine
    async with session_scope(world.factory) as db:
        assert len((await db.scalars(select(OptOut))).all()) == 1
    assert "订阅成功" in (await phone.say("DY YX")).texts[0]  # plain DY lists the services
    async with session_scope(world.factory) as db:
        assert (await db.scalars(select(OptOut))).all() == []


@pytest.mark.parametrize("text", ["", "   ", "asdfgh", "😀😀", "x" * 5000])
async def test_nonsense_gets_the_menu_never_silence(world, text: str) -> None:  # type: ignore[no-untyped-def]
    reply = await world.phone("13900000002").say(text)
    assert reply.texts and "ZD账单" in reply.texts[0]


async def _bound(world, profile):  # type: ignore[no-untyped-def]
    """Binds the customer's phone and returns a fresh message counter for it."""
    phone = world.phone(profile.mobile)
    code = CODE.search((await phone.say("BD")).texts[0]).group(1)
    assert "绑定成功" in (await phone.say(f"{last4(profile)} {code}")).texts[0]
    return world.phone(profile.mobile)


async def test_a_question_is_answered_from_the_knowledge_base(with_faq) -> None:  # type: ignore[no-untyped-def]
    phone = with_faq.phone("13900000005")
    reply = await phone.say("一类户二类户三类户有什么区别")
    assert reply.intent == "faq" and "二类" in reply.texts[0]
    assert phone.messages == 2


async def test_a_vague_question_offers_numbered_choices(with_faq) -> None:  # type: ignore[no-untyped-def]
    phone = with_faq.phone("13900000006")
    prompt = await phone.say("手续费")
    assert prompt.intent == "faq" and "您是不是想问" in prompt.texts[0]
    first_choice = prompt.texts[0].split("1) ", 1)[1].split("\n", 1)[0]
    picked = await phone.say("1")
    assert picked.intent == "faq" and "您是不是想问" not in picked.texts[0]
    assert phone.messages == 4, phone.log
    # The answer is the one written for the FAQ the customer picked.
    from kefu.knowledge.demo import demo_contents

    faq = next(c for c in demo_contents() if c.question == first_choice)
    assert picked.texts[0] == faq.answer_sms


async def test_no_match_gets_the_menu_and_is_kept_as_a_gap(with_faq) -> None:  # type: ignore[no-untyped-def]
    from kefu.knowledge.models import KnowledgeGap

    reply = await with_faq.phone("13900000007").say("请问你们的吉祥物叫什么名字")
    assert "ZD账单" in reply.texts[0]
    async with session_scope(with_faq.factory) as db:
        assert (await db.scalars(select(KnowledgeGap))).all()
