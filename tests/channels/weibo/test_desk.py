"""The desk's reply mode for Weibo conversations: the agent chooses a public comment or a 私信
per reply; the choice is stored with the message and reaches the channel through the relay; a
public reply over 140 characters is refused at the desk, not failed later; other channels offer
no choice."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kefu.conversations.models import Message
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.messaging.relay import pending_replies
from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def _conversation(client, channel: str = "weibo") -> int:  # type: ignore[no-untyped-def]
    client.cookies.clear()
    login(client, "supervisor")  # may answer any conversation (queues.supervise)
    answer = client.post("/api/v1/conversations", json={
        "channel": channel, "contact": "5000000123", "text": "@某某银行 信用卡被盗刷"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()["conversation_id"]


def _replies(url: str) -> list:  # type: ignore[type-arg]
    async def go() -> list:  # type: ignore[type-arg]
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as db:
                return await pending_replies(db, "weibo", 50)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_the_choice_travels_with_the_reply(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    cid = _conversation(client)
    url = f"/api/v1/conversations/{cid}/messages"
    too_long = client.post(url, json={"body": "长" * 141, "reply_mode": "comment"})
    assert too_long.status_code == 422 and "140" in too_long.text
    ok = client.post(url, json={"body": "长" * 141, "reply_mode": "dm"})  # a 私信 may be longer
    assert ok.status_code == 201, ok.text
    public = client.post(url, json={"body": "您好，已为您处理。", "reply_mode": "comment"})
    assert public.status_code == 201
    assert client.post(url, json={"body": "按规则"}).status_code == 201
    assert client.post(url, json={"body": "x", "reply_mode": "fax"}).status_code == 422
    modes = {r.outbound.text: r.outbound.metadata.get("reply_mode") for r in _replies(seeded_url)}
    assert modes == {"长" * 141: "dm", "您好，已为您处理。": "comment", "按规则": None}


def test_the_conversation_page_offers_the_choice_and_the_form_keeps_it(
    client, seeded_url: str
) -> None:  # type: ignore[no-untyped-def]
    cid = _conversation(client)
    page = client.get(f"/workspace/conversations/{cid}")
    assert 'data-testid="reply-mode"' in page.text and 'value="dm"' in page.text
    csrf = CSRF.search(page.text).group(1)
    refused = client.post(f"/workspace/conversations/{cid}/act", data={
        "csrf": csrf, "action": "reply", "text": "长" * 150, "reply_mode": "comment"})  # fmt: skip
    assert refused.status_code == 422 and "140" in refused.text
    sent = client.post(f"/workspace/conversations/{cid}/act", data={
        "csrf": csrf, "action": "reply", "text": "请查收私信", "reply_mode": "dm"},
        follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303

    async def stored() -> str | None:
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as db:
                return await db.scalar(
                    select(Message.reply_mode).where(Message.body == "请查收私信")
                )
        finally:
            await engine.dispose()

    assert asyncio.run(stored()) == "dm"


def test_other_channels_offer_no_choice(client) -> None:  # type: ignore[no-untyped-def]
    cid = _conversation(client, channel="wechat")
    assert 'data-testid="reply-mode"' not in client.get(f"/workspace/conversations/{cid}").text
    answer = client.post(f"/api/v1/conversations/{cid}/messages",
                         json={"body": "您好", "reply_mode": "comment"})  # fmt: skip
    assert answer.status_code == 422 and "reply_mode" in answer.text


def test_a_failed_reply_shows_why_on_the_desk(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    from kefu.channels.weibo.outbound import REASONS

    cid = _conversation(client)
    sent = client.post(f"/api/v1/conversations/{cid}/messages",
                       json={"body": "请问还需要帮助吗？", "reply_mode": "dm"})  # fmt: skip
    reason = REASONS[21609]  # what the channel records when the 48-hour window has closed

    async def fail() -> None:
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as db:
                message = await db.get(Message, sent.json()["id"])
                message.delivery_state, message.delivery_error = "failed", reason
                await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(fail())
    page = client.get(f"/workspace/conversations/{cid}").text
    assert f'data-testid="delivery-error">{reason}<' in page
    assert "私信" in page
    detail = client.get(f"/api/v1/conversations/{cid}").json()
    [mine] = [m for m in detail["messages"] if m["id"] == sent.json()["id"]]
    assert (mine["delivery_error"], mine["reply_mode"]) == (reason, "dm")
