"""Hybrid answering through the real callback: the assistant's dialogs as news cards, menu
clicks, the hand-off to a human (asked for, or not understood twice), silence while an agent
owns the conversation, the queue position, several official accounts side by side."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.channels.wechat.simulator.follower import event_xml, post_callback, text_xml
from kefu.conversations.models import Conversation, Message
from kefu.hall.menu import DEFAULT_REGION, save_menu
from kefu.routing.models import RoutingTask, TaskState
from tests.channels.wechat.harness import account, bind_openid, client, database, running

pytestmark = pytest.mark.db
_ids = iter(range(9000, 99999))


async def say(kefu, http, openid: str, text: str, name: str = "bank"):  # type: ignore[no-untyped-def]
    target = kefu.target(name)
    result = await post_callback(http, target, text_xml(target, openid, text, next(_ids)))
    assert result.status == 200, result.body
    return result.reply


async def test_a_bound_follower_gets_the_bill_as_a_card(seeded_url: str) -> None:
    await bind_openid(seeded_url, "o-bound", "C0000000001")
    async with running(seeded_url) as kefu, client() as http:
        reply = await say(kefu, http, "o-bound", "我要查3月的账单")
        assert reply["MsgType"] == "news"
        item = reply["Articles"]["item"]
        assert "3月账单" in item["Title"]
        assert "/h5/bank/bill?month=" in item["Url"] and item["Url"].endswith("-03")
        balance = await say(kefu, http, "o-bound", "余额多少")
        assert balance["MsgType"] in ("news", "text")


async def test_an_unbound_follower_is_sent_to_the_binding_page(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        reply = await say(kefu, http, "o-stranger", "我要查3月的账单")
        assert reply["MsgType"] == "news"
        assert reply["Articles"]["item"]["Url"].endswith("/h5/bank/bind")


async def test_asking_for_a_human_queues_and_the_bot_goes_quiet(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        first = await say(kefu, http, "o-human", "转人工")
        assert "人工客服" in first["Content"] and ("下一位" in first["Content"]
                                                  or "前面还有" in first["Content"])  # fmt: skip
        waiting = await say(kefu, http, "o-human", "我的卡被吞了")
        assert "前面还有" in waiting["Content"] or "下一位" in waiting["Content"]
        async with database(seeded_url) as db:
            conversation = await db.scalar(
                select(Conversation).where(Conversation.contact == "o-human")
            )
            task = await db.get(RoutingTask, conversation.id)
            task.state = TaskState.ASSIGNED  # an agent took it
            await db.commit()
        silent = await say(kefu, http, "o-human", "还在吗")
        assert silent is None  # the agent answers, not the bot
        async with database(seeded_url) as db:
            bodies = list((await db.scalars(
                select(Message.body).where(Message.conversation_id == conversation.id)
                .order_by(Message.id)
            )).all())  # fmt: skip
        assert bodies == ["转人工", "我的卡被吞了", "还在吗"]


async def test_not_understood_twice_hands_over(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        once = await say(kefu, http, "o-puzzled", "qwzx plmk")
        assert "没有理解" in once["Content"]
        twice = await say(kefu, http, "o-puzzled", "zzkv wqpt")
        assert "转接人工" in twice["Content"]
    async with database(seeded_url) as db:
        conversation = await db.scalar(
            select(Conversation).where(Conversation.contact == "o-puzzled")
        )
        assert conversation is not None and conversation.channel == "wechat"


async def test_menu_clicks_run_the_dialog_of_their_intent(seeded_url: str) -> None:
    await bind_openid(seeded_url, "o-click", "C0000000002")
    async with database(seeded_url) as db:
        await save_menu(db, account="bank", region=DEFAULT_REGION, actor="test",
                        menu={"button": [{"type": "click", "name": "账单", "key": "BILL",
                                          "action": {"intent": "bill.query"}},
                                         {"type": "click", "name": "积分", "key": "POINTS",
                                          "action": {"intent": "points.query"}}]})  # fmt: skip
        await db.commit()
    async with running(seeded_url) as kefu, client() as http:
        target = kefu.target()
        bill = await post_callback(http, target, event_xml(target, "o-click", "CLICK", "BILL"))
        assert "哪个月" in bill.reply["Content"]  # the bill dialog asks for the month
        month = await say(kefu, http, "o-click", "3月")
        assert month["MsgType"] == "news" and "bill?month=" in month["Articles"]["item"]["Url"]
        unknown = await post_callback(http, target, event_xml(target, "o-click", "CLICK", "GONE"))
        assert "智能客服" in unknown.reply["Content"]


async def test_a_menu_tap_while_an_agent_owns_the_chat_is_acknowledged_and_joins_it(
    seeded_url: str,
) -> None:
    """Issue 23, finding 9: after 人工 a tap on 帮助 got no answer at all and reached the agent
    as the command behind it; now it is acknowledged and the agent reads the item's label."""
    async with database(seeded_url) as db:
        await save_menu(db, account="bank", region=DEFAULT_REGION, actor="test",
                        menu={"button": [{"type": "click", "name": "帮助", "key": "HELP",
                                          "action": {"intent": "help"}},
                                         {"type": "click", "name": "人工客服", "key": "AGENT",
                                          "action": {"intent": "agent.transfer"}}]})  # fmt: skip
        await db.commit()
    async with running(seeded_url) as kefu, client() as http:
        target = kefu.target()
        tap = event_xml(target, "o-tapper", "CLICK", "AGENT")
        queued = await post_callback(http, target, tap)
        assert "人工客服" in queued.reply["Content"]
        async with database(seeded_url) as db:
            conversation = await db.scalar(
                select(Conversation).where(Conversation.contact == "o-tapper")
            )
            task = await db.get(RoutingTask, conversation.id)
            task.state = TaskState.ASSIGNED  # an agent took it
            await db.commit()
        helped = await post_callback(http, target, event_xml(target, "o-tapper", "CLICK", "HELP"))
        assert helped.reply["Content"] == "已收到，客服正在为您处理，请稍候。"
        typed = await say(kefu, http, "o-tapper", "还在吗")
        assert typed is None  # typed text: the agent answers, the bot stays silent
    async with database(seeded_url) as db:
        bodies = list((await db.scalars(
            select(Message.body).where(Message.conversation_id == conversation.id)
            .order_by(Message.id)
        )).all())  # fmt: skip
    assert bodies[-2:] == ["「菜单：帮助」", "还在吗"]


async def test_accounts_are_separate(seeded_url: str) -> None:
    accounts = [account("bank"),
                account("card", mode="plain", app_id="wxkefucard000001").model_copy(
                    update={"token": "card-token-2", "display_name": "信用卡中心"})]  # fmt: skip
    async with running(seeded_url, accounts) as kefu, client() as http:
        bank = await say(kefu, http, "o-both", "你好", "bank")
        card = await say(kefu, http, "o-both", "你好", "card")
        assert bank is not None and card is not None
        # A message signed with the card account's token is refused by the bank account.
        wrong = kefu.target("card")
        wrong = wrong.__class__(**{**wrong.__dict__, "url": kefu.target("bank").url})
        result = await post_callback(http, wrong, text_xml(wrong, "o-both", "你好", 1))
        assert result.status == 403
        subscribe = await post_callback(http, kefu.target("card"),
                                        event_xml(kefu.target("card"), "o-new", "subscribe"))  # fmt: skip
        assert "信用卡中心" in subscribe.reply["Content"]


async def test_a_menu_item_opens_its_knowledge_article(seeded_url: str) -> None:
    """A CLICK bound to a knowledge entry: the hall (handed to the channel) finds the article
    in WeChat's wording and the channel sends it as a news card linking its H5 page."""
    from kefu.knowledge.models import KnowledgeEntry

    async with database(seeded_url) as db:
        entry = await db.scalar(
            select(KnowledgeEntry).where(KnowledgeEntry.published_version.is_not(None))
        )
        assert entry is not None
        await save_menu(db, account="bank", region=DEFAULT_REGION, actor="test",
                        menu={"button": [{"type": "click", "name": "须知", "key": "KB",
                                          "action": {"entry_id": entry.id}}]})  # fmt: skip
        await db.commit()
    async with running(seeded_url) as kefu, client() as http:
        target = kefu.target()
        opened = await post_callback(http, target, event_xml(target, "o-kb", "CLICK", "KB"))
        assert opened.reply["MsgType"] == "news"
        assert opened.reply["Articles"]["item"]["Url"].endswith(f"/article/{entry.id}")
