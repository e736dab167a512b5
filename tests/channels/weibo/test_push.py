"""The 私信 push receiver: the URL check, refusals before anything is stored (401 wrong
signature, 413 too large, 400 naming the field), a retried push kept once, events recorded
without a reply; and one end-to-end run on real sockets (a 私信 pushed, answered by the bot,
an agent's reply delivered)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import func, select

from kefu.channels.weibo.models import WeiboOutbound, WeiboReceived
from kefu.channels.weibo.simulator.push import signed_query, verify_url
from kefu.channels.weibo.simulator.state import weibo_time
from kefu.conversations.models import Message
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.vocabulary import DeliveryState, Direction, SenderType
from tests.channels.weibo.harness import Running, running

pytestmark = pytest.mark.db


def _body(k: Running, uid: int, text: str, **extra: object) -> dict:
    return {"type": "text", "receiver_id": k.state.official.id, "sender_id": uid,
            "created_at": weibo_time(k.state.now()), "text": text, "data": {}, **extra}  # fmt: skip


async def _count(db_url: str, model: type, *where: object) -> int:
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        await engine.dispose()


async def _until(check, seconds: float = 8.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_pushes_are_checked_before_anything_is_stored(seeded_url: str) -> None:
    async with running(seeded_url) as k, httpx.AsyncClient(timeout=10) as http:
        ok, why = await verify_url(k.state, http, k.push_url)
        assert ok, why
        bad = {**signed_query(k.state), "signature": "0" * 40}
        refused = await http.get(k.push_url, params={**bad, "echostr": "abc"})
        assert refused.status_code == 401
        fan = k.state.add_user("路人")
        answer = await http.post(k.push_url, params=bad, json=_body(k, fan.id, "你好"))
        assert answer.status_code == 401
        hostile = {**signed_query(k.state), "signature": "签名" * 20}  # non-ASCII: 401, not 500
        assert (await http.post(k.push_url, params=hostile, json={})).status_code == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
        big = await http.post(k.push_url, params=signed_query(k.state),
                              json=_body(k, fan.id, "长" * 40_000))  # fmt: skip
        assert big.status_code == 413
        garbled = await http.post(k.push_url, params=signed_query(k.state), content=b"{not json")
        assert garbled.status_code == 400 and "JSON" in garbled.json()["detail"]
        missing = _body(k, fan.id, "你好")
        del missing["sender_id"]
        named = await http.post(k.push_url, params=signed_query(k.state), json=missing)
        assert named.status_code == 400 and "sender_id" in named.json()["detail"]
        other = await http.post(k.push_url, params=signed_query(k.state),
                                json={**_body(k, fan.id, "你好"), "receiver_id": 1})  # fmt: skip
        assert other.status_code == 400 and "receiver_id" in other.json()["detail"]
        nobody = await http.post(f"{k.kefu.url}/weibo/nobody/push", json={})
        assert nobody.status_code == 404
    assert await _count(seeded_url, WeiboReceived) == 0


async def test_a_retried_push_is_kept_once_and_events_get_no_reply(seeded_url: str) -> None:
    async with running(seeded_url) as k, httpx.AsyncClient(timeout=10) as http:
        await k.authorise()
        fan = k.state.add_user("重复推送")
        body = _body(k, fan.id, "转人工")
        for _ in range(3):  # Weibo retries when the 200 comes late: same sender, time and text
            answer = await http.post(k.push_url, params=signed_query(k.state), json=body)
            assert answer.status_code == 200
        follow = _body(k, fan.id, "", type="event", data={"subtype": "follow"})
        assert (
            await http.post(k.push_url, params=signed_query(k.state), json=follow)
        ).status_code == 200

        async def settled() -> bool:
            return await _count(seeded_url, WeiboReceived, WeiboReceived.state == "stored") == 0

        await _until(settled)
        assert await _count(seeded_url, WeiboReceived, WeiboReceived.kind == "dm") == 1
        assert await _count(seeded_url, WeiboReceived, WeiboReceived.kind == "event") == 1
        customer_messages = await _count(seeded_url, Message, Message.channel == "weibo",
                                         Message.body == "转人工")  # fmt: skip
        assert customer_messages == 1
        assert k.runtime.stats["push_duplicates"] == 2
        # The follow event is recorded; it opens nothing and nothing is sent for it.
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as db:
                event = await db.scalar(select(WeiboReceived).where(WeiboReceived.kind == "event"))
                dm = await db.scalar(select(WeiboReceived).where(WeiboReceived.kind == "dm"))
                replies = (await db.scalars(select(WeiboOutbound.idempotency_key))).all()
        finally:
            await engine.dispose()
        assert event.state == "recorded" and event.conversation_id is None
        assert event.payload["data"] == {"subtype": "follow"}
        assert all(key.startswith(f"answer:{dm.id}:") for key in replies)


async def test_end_to_end_a_dm_and_a_reply_on_real_sockets(seeded_url: str) -> None:
    """The simulator pushes a 私信 (its control API, as `kefu demo` would), kefu answers and an
    agent's reply reaches the simulator's /_sim/sent — all over loopback HTTP."""
    started = time.monotonic()
    async with running(seeded_url) as k, httpx.AsyncClient(base_url=k.sim.url, timeout=10) as sim:
        await k.authorise()
        user = (await sim.post("/_sim/users", json={"screen_name": "端到端"})).json()
        pushed = (await sim.post("/_sim/dms", json={"uid": user["id"], "text": "转人工"})).json()
        assert pushed["delivered"] is True and pushed["attempts"] == 1

        async def bot_answered() -> bool:
            return bool((await sim.get("/_sim/sent")).json()["dms"])

        await _until(bot_answered)
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as db:
                row = await db.scalar(select(WeiboReceived).where(WeiboReceived.kind == "dm"))
                assert row.conversation_id is not None
                db.add(Message(conversation_id=row.conversation_id, channel="weibo",
                               direction=Direction.OUTBOUND.value,
                               sender_type=SenderType.AGENT.value, body="您好，我是客服小周。",
                               delivery_state=DeliveryState.ACCEPTED.value))  # fmt: skip
                await db.commit()
        finally:
            await engine.dispose()
        k.runtime.outbound.kick()

        async def agent_delivered() -> bool:
            dms = (await sim.get("/_sim/sent")).json()["dms"]
            return any(d["text"] == "您好，我是客服小周。" for d in dms)

        await _until(agent_delivered)
        texts = [d["text"] for d in (await sim.get("/_sim/sent")).json()["dms"]]
        assert texts.count("您好，我是客服小周。") == 1
    assert time.monotonic() - started < 10
