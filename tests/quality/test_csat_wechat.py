"""The CSAT survey on WeChat end to end through the simulator: closing the conversation sends
a menu message (msgmenu) by custom-send, the follower's tap comes back as a text message with
``bizmsgmenuid``, and the tapped score is recorded and thanked."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.quality import csat
from kefu.quality.models import CsatResponse
from kefu.routing import service as routing
from tests.channels.wechat.harness import APP_ID, database, running

pytestmark = pytest.mark.db
OPENID = "o-csat-card"


async def _menus(kefu, count: int) -> list:  # type: ignore[no-untyped-def]
    for _ in range(60):
        menus = [m for m in kefu.sim.messages(touser=OPENID) if m.msgtype == "msgmenu"]
        if len(menus) >= count:
            return menus
        await asyncio.sleep(0.1)
    return []


async def test_the_survey_is_a_menu_and_the_tap_is_the_score(seeded_url: str) -> None:
    async with running(seeded_url) as kefu:
        kefu.follow(OPENID)
        sim = httpx.AsyncClient(base_url=kefu.simulator.url, timeout=10)
        sent = await sim.post("/_simulator/followers/send", json={
            "appid": APP_ID, "openid": OPENID, "msg_type": "text", "content": "转人工"})  # fmt: skip
        assert sent.status_code == 200
        async with database(seeded_url) as db:
            conv = await db.scalar(select(Conversation).where(Conversation.contact == OPENID))
            conv.assigned_agent_id = await db.scalar(
                select(Agent.id).where(Agent.username == "agent1")
            )
            await routing.close(db, conversation_id=conv.id, now=utcnow(), actor="agent1")
            await db.commit()
        menus = await _menus(kefu, 1)
        assert menus, "the survey was not sent as a menu message"
        card = menus[-1].body
        assert card["head_content"] == csat.SCORE_CHOICES.head
        assert [i["id"] for i in card["list"]] == ["5", "4", "3", "2", "1"]
        assert card["list"][0]["content"] == "5 非常满意"

        # A tap on an item the menu does not have is refused by WeChat (the simulator).
        bad = await sim.post("/_simulator/followers/tap",
                             json={"appid": APP_ID, "openid": OPENID, "id": "9"})  # fmt: skip
        assert bad.status_code == 404
        tapped = await sim.post("/_simulator/followers/tap",
                                json={"appid": APP_ID, "openid": OPENID, "id": "4"})  # fmt: skip
        assert tapped.status_code == 200, tapped.text
        assert tapped.json()["reply"]["Content"] == csat.THANKS
        # The next message (even a bare digit) goes to the assistant again.
        after = await sim.post("/_simulator/followers/send", json={
            "appid": APP_ID, "openid": OPENID, "msg_type": "text", "content": "1"})  # fmt: skip
        assert after.json()["reply"]["Content"] not in (csat.ALREADY, csat.THANKS)
        await sim.aclose()
    async with database(seeded_url) as db:
        scores = (await db.scalars(
            select(CsatResponse.score).where(CsatResponse.conversation_id == conv.id))).all()  # fmt: skip
    assert scores == [4]
