"""Replies on Weibo: an agent's reply as a public comment (on the post, or to the comment) and
as a 私信, each reaching the simulator exactly once — also after a timeout, a lost request, an
expired token or two workers at once; the 48-hour 私信 window and a deleted post fail with a
reason the desk shows."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from kefu.channels.weibo.inbound import DELETED_NOTE, store
from kefu.channels.weibo.models import OutState, WeiboOutbound, WeiboReceived
from kefu.channels.weibo.outbound import MAYBE_SENT_DM, Outbound
from kefu.channels.weibo.push import parse_push
from kefu.channels.weibo.simulator.push import body as push_body
from kefu.channels.weibo.simulator.state import Fault
from kefu.conversations.models import Message
from kefu.vocabulary import DeliveryState, Direction, SenderType
from tests.channels.weibo.harness import Rig, rig

pytestmark = pytest.mark.db
CREATE = "/2/comments/create.json"
# Not shorter: healthy calls share a loaded CI machine (a 0.5 s timeout once expired on a
# healthy Weibo read there). A hung call answers after HANG, well past TIMEOUT.
TIMEOUT = 1.5
HANG = 2.5


async def _conversation_from_mention(r: Rig, text: str = "信用卡年费怎么收？") -> tuple[int, int]:
    await r.authorise()
    fan = r.user()
    status = r.mention(fan, text)
    await r.poll()
    [row] = await r.received(external_id=str(status.id))
    assert row.conversation_id is not None
    return row.conversation_id, status.id


async def _reply(r: Rig, conversation_id: int, body: str, mode: str | None = None) -> int:
    async with r.sessionmaker() as db:
        message = Message(conversation_id=conversation_id, channel="weibo",
                          direction=Direction.OUTBOUND.value, sender_type=SenderType.AGENT.value,
                          body=body, delivery_state=DeliveryState.ACCEPTED.value, reply_mode=mode)  # fmt: skip
        db.add(message)
        await db.commit()
        return message.id


async def _deliver(r: Rig, outbound: Outbound | None = None) -> None:
    outbound = outbound or r.runtime.outbound
    await outbound.relay_agent_replies()
    await outbound.send_due()


async def _due_now(r: Rig) -> None:
    """Skips the back-off wait (the tests do not sleep it)."""
    async with r.sessionmaker() as db:
        await db.execute(update(WeiboOutbound).values(next_try_at=None))
        await db.commit()


async def _message(r: Rig, message_id: int) -> Message:
    async with r.sessionmaker() as db:
        found = await db.get(Message, message_id)
        assert found is not None
        return found


async def test_an_agent_reply_goes_as_a_comment_on_the_post_once(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, status_id = await _conversation_from_mention(r)
        message_id = await _reply(r, conversation_id, "您好，年费以账单为准，详情请私信我们。")
        await _deliver(r)
        await _deliver(r)  # a second round sends nothing more
        [comment] = r.sent()["comments"]
        assert (comment.status_id, comment.reply_to) == (status_id, None)
        assert comment.text == "您好，年费以账单为准，详情请私信我们。"
        message = await _message(r, message_id)
        assert message.delivery_state == "sent" and message.external_id.startswith("weibo:")


async def test_a_reply_to_a_comment_answers_that_comment(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        await r.authorise()
        fan = r.user()
        post = r.state.add_status(r.state.official.id, "双十二理财节开启")
        comment = r.state.add_comment(fan.id, post.id, "收益率是多少？")
        await r.poll()
        [row] = await r.received(kind="comment")
        await _reply(r, row.conversation_id, "预期年化以产品说明书为准。")
        await _deliver(r)
        [sent] = r.sent()["comments"]
        assert (sent.status_id, sent.reply_to) == (post.id, comment.id)


async def _dm_conversation(r: Rig, text: str = "转人工") -> tuple[int, int]:
    """A 私信 arrives as a push would bring it; "转人工" asks for an agent."""
    await r.authorise()
    fan = r.user("私信用户")
    pushed = r.dm_from(fan, text)
    item = parse_push(__import__("json").dumps(push_body(r.state, pushed)).encode(), r.account)
    async with r.sessionmaker() as db:
        ids = await store(db, "bank", [item])
        await db.commit()
    await r.runtime.intake.hand_on(ids)
    [row] = await r.received(kind="dm")
    assert row.conversation_id is not None, "转人工 opens a conversation"
    return row.conversation_id, fan.id


async def test_a_dm_conversation_is_answered_by_dm_within_48_hours(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, fan_id = await _dm_conversation(r)
        await _deliver(r)  # the bot's hand-off words go out as a 私信 too
        bot_words = [m.text for m in r.sent()["dms"]]
        assert bot_words and all(m.receiver_id == fan_id for m in r.sent()["dms"])
        first = await _reply(r, conversation_id, "您好，我是客服小王。")
        await _deliver(r)
        assert [m.text for m in r.sent()["dms"]] == [*bot_words, "您好，我是客服小王。"]
        assert (await _message(r, first)).delivery_state == "sent"
        r.state.advance(49 * 3600)  # the user's last 私信 is now 49 hours old
        late = await _reply(r, conversation_id, "请问问题解决了吗？")
        await _deliver(r)
        message = await _message(r, late)
        assert message.delivery_state == "failed" and "48小时" in message.delivery_error
        assert len(r.sent()["dms"]) == len(bot_words) + 1


async def test_the_agent_may_choose_a_dm_for_a_public_conversation(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, _ = await _conversation_from_mention(r)
        [row] = await r.received(kind="mention")
        r.dm_from(r.state.users[int(row.sender_uid)], "我私信你们了")  # the window is open
        await _reply(r, conversation_id, "已收到，请提供卡号后四位。", mode="dm")
        await _deliver(r)
        assert r.sent()["comments"] == []
        assert [m.text for m in r.sent()["dms"]] == ["已收到，请提供卡号后四位。"]


async def test_a_timeout_whose_comment_was_posted_is_not_posted_again(seeded_url: str) -> None:
    async with rig(seeded_url, timeout=TIMEOUT) as r:
        conversation_id, status_id = await _conversation_from_mention(r)
        r.state.faults[CREATE] = [Fault(delay=HANG)]  # no answer in time
        message_id = await _reply(r, conversation_id, "已为您登记，稍后回电。")
        await _deliver(r)
        async with r.sessionmaker() as db:
            row = await db.scalar(select(WeiboOutbound))
        assert row.state == OutState.UNKNOWN
        assert (await _message(r, message_id)).delivery_state == "accepted"
        # Weibo did post it; only its answer was lost.
        r.state.add_comment(r.state.official.id, status_id, "已为您登记，稍后回电。")
        await _due_now(r)
        await _deliver(r)
        assert [c.text for c in r.sent()["comments"]] == ["已为您登记，稍后回电。"]
        assert r.runtime.outbound.stats["verified"] == 1
        assert (await _message(r, message_id)).delivery_state == "sent"


async def test_a_timeout_whose_comment_was_not_posted_is_posted_once(seeded_url: str) -> None:
    async with rig(seeded_url, timeout=TIMEOUT) as r:
        conversation_id, _ = await _conversation_from_mention(r)
        r.state.faults[CREATE] = [Fault(delay=HANG)]  # the simulator drops the call it hangs
        message_id = await _reply(r, conversation_id, "已为您登记，稍后回电。")
        await _deliver(r)
        assert r.sent()["comments"] == []
        await asyncio.sleep(HANG - TIMEOUT + 0.1)
        await _due_now(r)
        await _deliver(r)
        await _due_now(r)
        await _deliver(r)
        assert [c.text for c in r.sent()["comments"]] == ["已为您登记，稍后回电。"]
        assert r.runtime.outbound.stats["verified"] == 0
        assert (await _message(r, message_id)).delivery_state == "sent"


async def test_a_lost_request_is_sent_again_once(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, _ = await _conversation_from_mention(r)
        r.state.faults[CREATE] = [Fault(http_status=502)]  # a proxy's page: nothing was posted
        message_id = await _reply(r, conversation_id, "您好，已转交专员处理。")
        await _deliver(r)
        assert r.sent()["comments"] == []
        await _due_now(r)
        await _deliver(r)
        assert [c.text for c in r.sent()["comments"]] == ["您好，已转交专员处理。"]
        assert (await _message(r, message_id)).delivery_state == "sent"


async def test_repeat_content_counts_as_sent_only_when_found(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, _ = await _conversation_from_mention(r)
        r.state.faults[CREATE] = [Fault(error_code=20019)]
        message_id = await _reply(r, conversation_id, "感谢关注！")
        await _deliver(r)
        message = await _message(r, message_id)
        assert message.delivery_state == "failed" and "相同内容" in message.delivery_error
        assert r.sent()["comments"] == []


async def test_a_dm_whose_answer_was_lost_is_not_sent_again(seeded_url: str) -> None:
    """私信 have no read to verify by: at most once, and the desk says it may have arrived."""
    async with rig(seeded_url, timeout=TIMEOUT) as r:
        conversation_id, _ = await _dm_conversation(r)
        await _deliver(r)
        before = len(r.sent()["dms"])
        r.state.faults["/2/messages/reply.json"] = [Fault(delay=HANG)]
        message_id = await _reply(r, conversation_id, "您的卡片已冻结。")
        await _deliver(r)
        await asyncio.sleep(HANG - TIMEOUT + 0.1)
        await _due_now(r)
        await _deliver(r)
        assert len(r.sent()["dms"]) - before <= 1
        message = await _message(r, message_id)
        assert message.delivery_state == "failed" and message.delivery_error == MAYBE_SENT_DM
        async with r.sessionmaker() as db:
            row = await db.scalar(
                select(WeiboOutbound).where(WeiboOutbound.message_id == message_id)
            )
        assert row.attempts == 1  # tried once, never again


async def test_an_expired_token_keeps_the_reply_until_authorised(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, _ = await _conversation_from_mention(r)
        for token in r.state.tokens.values():
            token.expired = True
        message_id = await _reply(r, conversation_id, "稍等，马上为您查询。")
        await _deliver(r)
        assert (await _message(r, message_id)).delivery_state == "accepted"
        await _due_now(r)
        await _deliver(r)  # still no token: no call, still accepted
        assert r.sent()["comments"] == []
        await r.authorise()
        await _due_now(r)
        await _deliver(r)
        assert [c.text for c in r.sent()["comments"]] == ["稍等，马上为您查询。"]
        assert (await _message(r, message_id)).delivery_state == "sent"


async def test_a_reply_to_a_deleted_post_fails_and_notes_it(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, status_id = await _conversation_from_mention(r)
        r.state.statuses[status_id].deleted = True
        message_id = await _reply(r, conversation_id, "您好？")
        await _deliver(r)
        message = await _message(r, message_id)
        assert message.delivery_state == "failed" and "删除" in message.delivery_error
        [row] = await r.received(kind="mention")
        assert row.deleted
        async with r.sessionmaker() as db:
            notes = (await db.scalars(select(Message.body).where(
                Message.conversation_id == conversation_id,
                Message.sender_type == "system"))).all()  # fmt: skip
        assert list(notes) == [DELETED_NOTE]


async def test_a_public_reply_over_140_characters_is_refused(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, _ = await _conversation_from_mention(r)
        message_id = await _reply(r, conversation_id, "长" * 141)
        await _deliver(r)
        message = await _message(r, message_id)
        assert message.delivery_state == "failed" and "140" in message.delivery_error
        assert r.sent()["comments"] == []


async def test_two_workers_send_each_reply_once(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        conversation_id, _ = await _conversation_from_mention(r)
        for i in range(6):
            await _reply(r, conversation_id, f"第{i}条回复")
        other = Outbound(accounts={"bank": r.account}, apis=r.runtime.apis,
                         sessionmaker=r.sessionmaker)  # fmt: skip
        await asyncio.gather(r.runtime.outbound.relay_agent_replies(), other.relay_agent_replies())
        await asyncio.gather(r.runtime.outbound.send_due(), other.send_due())
        texts = sorted(c.text for c in r.sent()["comments"])
        assert texts == sorted(f"第{i}条回复" for i in range(6))
        assert await r.count(WeiboOutbound) == 6
        assert await r.count(WeiboReceived) == 1
