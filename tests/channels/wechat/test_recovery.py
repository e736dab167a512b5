"""Answers a dead process left (``kefu.channels.wechat.recovery``): a row nobody is answering
is answered once, through custom-send, whoever else tries; an original that was only slow
keeps nothing of its own answer; fresh rows are left to their process."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kefu.assistant.models import DialogSession
from kefu.channels.wechat.messages import WechatMessage, kept_fields, restored
from kefu.channels.wechat.models import InboundState, WechatInbound, WechatOutbound
from kefu.channels.wechat.simulator.follower import post_callback, text_xml
from kefu.db.base import utcnow
from tests.channels.sms.test_gateway import eventually
from tests.channels.wechat.harness import client, database, running

MSG_IDS = itertools.count(91_000)


def test_a_row_keeps_what_the_callback_saw() -> None:
    click = WechatMessage(openid="o1", account_id="gh_1", create_time=1_700_000_000,
                          msg_type="event", event="click", key="BILL")  # fmt: skip
    place = WechatMessage(openid="o1", account_id="gh_1", create_time=1_700_000_001,
                          msg_type="location", msg_id="42", content="深圳",
                          latitude=22.54, longitude=114.05)  # fmt: skip
    for message in (click, place):
        kept = kept_fields(message, "https://kefu.bank.example/")
        again, base_url = restored(kept, openid=message.openid, msg_type=message.msg_type,
                                   event=message.event, content=message.content)  # fmt: skip
        assert again == message and again.dedupe_key == message.dedupe_key
        assert base_url == "https://kefu.bank.example/"
    # A row from before the message was kept answers from its columns alone.
    old, base_url = restored(None, openid="o1", msg_type="text", event=None, content="你好")
    assert old.content == "你好" and old.msg_type == "text" and base_url == "/"


async def _left_behind(kefu: Any, db_url: str, openid: str, text: str, **values: Any) -> int:
    """A row as a process that died after storing it leaves it: ``answering`` (or as
    ``values`` say), two minutes old, nobody answering it."""
    channel = kefu.app.state.wechat
    message = WechatMessage(openid=openid, account_id="gh_test", create_time=int(time.time()),
                            msg_type="text", msg_id=str(next(MSG_IDS)), content=text)  # fmt: skip
    row_id = await channel._store(kefu.accounts[0], message, kefu.kefu.url + "/")
    assert row_id is not None
    async with database(db_url) as db:
        await db.execute(
            update(WechatInbound).where(WechatInbound.id == row_id)
            .values(**{"received_at": utcnow() - timedelta(minutes=2), **values})
        )  # fmt: skip
        await db.commit()
    return row_id


async def _row(db_url: str, row_id: int) -> WechatInbound:
    async with database(db_url) as db:
        row = await db.get(WechatInbound, row_id)
        assert row is not None
        return row


async def _turns(db_url: str, openid: str) -> int:
    async with database(db_url) as db:
        dialog = await db.scalar(select(DialogSession).where(DialogSession.contact == openid))
        return 0 if dialog is None else dialog.turns


async def _quiet(kefu: Any) -> Any:
    """The recovery with its own loop stopped, so each test runs its rounds itself."""
    recovery = kefu.app.state.wechat_runtime.recovery
    await recovery.stop()
    return recovery


@pytest.mark.db
async def test_an_answer_a_dead_process_left_goes_out_once(seeded_url: str) -> None:
    async with running(seeded_url) as kefu:
        recovery = await _quiet(kefu)
        kefu.follow("o-dead")
        row_id = await _left_behind(kefu, seeded_url, "o-dead", "你好")
        fresh = await _left_behind(kefu, seeded_url, "o-fresh", "你好", received_at=utcnow())
        assert await recovery.run_once() == 1
        sent = kefu.sim.messages(touser="o-dead")
        assert len(sent) == 1 and "智能客服" in sent[0].body["content"]
        assert await recovery.run_once() == 0  # answered: nothing left behind
        assert len(kefu.sim.messages(touser="o-dead")) == 1
        assert kefu.sim.messages(touser="o-fresh") == []  # its process may still answer it
    row = await _row(seeded_url, row_id)
    assert row.state == InboundState.SENT and row.answer is not None
    assert (await _row(seeded_url, fresh)).state == InboundState.ANSWERING
    assert await _turns(seeded_url, "o-dead") == 1


@pytest.mark.db
async def test_recoveries_at_once_answer_once(seeded_url: str) -> None:
    async with running(seeded_url) as kefu:
        recovery = await _quiet(kefu)
        kefu.follow("o-race")
        row_id = await _left_behind(kefu, seeded_url, "o-race", "你好")
        answered = await asyncio.gather(*(recovery.run_once() for _ in range(4)))
        assert sum(answered) == 1
        assert len(kefu.sim.messages(touser="o-race")) == 1
    assert (await _row(seeded_url, row_id)).state == InboundState.SENT
    assert await _turns(seeded_url, "o-race") == 1
    async with database(seeded_url) as db:
        keys = list(await db.scalars(select(WechatOutbound.idempotency_key)))
    assert keys == [f"answer:{row_id}"]


@pytest.mark.db
async def test_a_stored_answer_is_sent_as_it_is(seeded_url: str) -> None:
    answer = {"type": "text", "content": "您的账单已出，请查收。"}
    async with running(seeded_url) as kefu:
        recovery = await _quiet(kefu)
        channel = kefu.app.state.wechat

        async def never(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("a stored answer is not computed again")

        channel.compute = never
        kefu.follow("o-ready")
        kefu.follow("o-deferred")
        ready = await _left_behind(kefu, seeded_url, "o-ready", "账单",
                                   state=InboundState.READY, answer=answer)  # fmt: skip
        deferred = await _left_behind(kefu, seeded_url, "o-deferred", "账单",
                                      state=InboundState.DEFERRED, answer=answer)  # fmt: skip
        assert await recovery.run_once() == 2
        for openid in ("o-ready", "o-deferred"):
            sent = kefu.sim.messages(touser=openid)
            assert [m.body["content"] for m in sent] == [answer["content"]]
    for row_id in (ready, deferred):
        assert (await _row(seeded_url, row_id)).state == InboundState.SENT


@pytest.mark.db
async def test_a_slow_original_keeps_nothing_once_taken_over(seeded_url: str) -> None:
    async with running(seeded_url, wechat_reply_budget=0.3) as kefu, client() as http:
        recovery = await _quiet(kefu)
        channel = kefu.app.state.wechat
        compute = channel.compute
        release, calls = asyncio.Event(), []

        async def first_one_hangs(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                await release.wait()  # the original, stuck (a bank call that never ends)
            return await compute(*args, **kwargs)

        channel.compute = first_one_hangs
        kefu.follow("o-slow-orig")
        target = kefu.target()
        reply = await post_callback(http, target, text_xml(target, "o-slow-orig", "你好", 91_999))
        assert reply.body == "success"  # the budget ran out: deferred
        async with database(seeded_url) as db:
            row_id = await db.scalar(
                select(WechatInbound.id).where(WechatInbound.openid == "o-slow-orig")
            )
            await db.execute(
                update(WechatInbound).where(WechatInbound.id == row_id)
                .values(received_at=utcnow() - timedelta(minutes=2))
            )  # fmt: skip
            await db.commit()
        assert await recovery.run_once() == 1
        release.set()  # the original now finishes its answer: it must keep nothing
        await eventually(lambda: not channel._tasks, timeout=20.0)
        assert len(calls) == 2
        assert len(kefu.sim.messages(touser="o-slow-orig")) == 1
    assert (await _row(seeded_url, row_id)).state == InboundState.SENT
    assert await _turns(seeded_url, "o-slow-orig") == 1  # the original's turn rolled back


@pytest.mark.db
async def test_the_relay_recovers_by_itself(seeded_url: str) -> None:
    async with running(seeded_url, wechat_recover_after=1) as kefu:
        kefu.follow("o-loop")
        row_id = await _left_behind(kefu, seeded_url, "o-loop", "你好")
        for _ in range(300):  # sent, then marked sent (the loop runs every 0.5 s here)
            if (await _row(seeded_url, row_id)).state == InboundState.SENT:
                break
            await asyncio.sleep(0.1)
        assert (await _row(seeded_url, row_id)).state == InboundState.SENT
        assert len(kefu.sim.messages(touser="o-loop")) == 1


@pytest.mark.db
async def test_an_answer_the_database_was_away_for_is_answered_when_it_is_back(
    seeded_url: str,
) -> None:
    """A restart or failover longer than the answer's own tries: the row is left for the
    recovery, not marked failed (which nothing answers): the customer still gets one answer."""
    async with running(seeded_url, wechat_reply_budget=0.3) as kefu, client() as http:
        recovery = await _quiet(kefu)
        channel = kefu.app.state.wechat
        settle = channel._settle

        async def database_away(*args: Any, **kwargs: Any) -> Any:
            raise PoolTimeout("QueuePool limit reached, connection timed out")

        channel._settle = database_away
        kefu.follow("o-away")
        target = kefu.target()
        first = await post_callback(http, target, text_xml(target, "o-away", "你好", 91_900))
        assert first.status == 200 and first.body == "success"  # stored; the answer is late
        await eventually(lambda: not channel._tasks, timeout=20.0)  # its tries gave up
        async with database(seeded_url) as db:
            (row,) = (await db.scalars(select(WechatInbound))).all()
            # Left for the recovery (the callback gave up waiting: deferred), not failed.
            assert row.state == InboundState.DEFERRED and row.answer is None
            await db.execute(
                update(WechatInbound).where(WechatInbound.id == row.id)
                .values(received_at=utcnow() - timedelta(minutes=2))
            )  # fmt: skip
            await db.commit()
        assert kefu.sim.messages(touser="o-away") == []
        channel._settle = settle  # the database is back
        assert await recovery.run_once() == 1
        sent = kefu.sim.messages(touser="o-away")
        assert len(sent) == 1 and "智能客服" in sent[0].body["content"]
    assert (await _row(seeded_url, row.id)).state == InboundState.SENT
