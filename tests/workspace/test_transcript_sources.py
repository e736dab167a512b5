"""Issue 23, finding 7 ("conversations are hard to read"): a WeChat menu tap reads as the
item's label, not its key or command; the assistant's part of a web chat before the hand-off
is on the agent's page, masked like every customer text."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from kefu.channels.webchat.models import WebchatMessage, WebchatSession
from kefu.channels.wechat.models import WechatInbound
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.hall.menu import WechatMenu
from tests.conftest import login

pytestmark = pytest.mark.db
OPENID = "oTapper0000000000000000000001"
VISITOR = "v:websession0001"


async def _add(url: str, *rows: object) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for row in rows:
                session.add(row)
                await session.flush()
    finally:
        await engine.dispose()


def _bot_part(page: str) -> str:
    return page[page.index('data-testid="bot-part"') : page.index('data-testid="messages"')]


def _open(client, channel: str, contact: str, text: str) -> int:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    answer = client.post(
        "/api/v1/conversations", json={"channel": channel, "contact": contact, "text": text}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["conversation_id"])


def test_a_menu_tap_reads_as_its_label(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    menu = WechatMenu(account="demo", region="", version=1, updated_by="admin", buttons={"button": [
        {"name": "服务", "sub_button": [
            {"type": "click", "name": "人工客服", "key": "AGENT", "action": {"intent": "agent.transfer"}},
            {"type": "click", "name": "帮助", "key": "HELP", "action": {"intent": "help"}},
        ]},
    ]})  # fmt: skip
    before = datetime.now(UTC) - timedelta(minutes=2)
    digest = hashlib.sha1(b"HELP", usedforsecurity=False).hexdigest()[:16]
    tap = WechatInbound(account="demo", dedupe_key=f"evt:{OPENID}:1700000000:click:{digest}",
                        openid=OPENID, msg_type="event", event="click", content="", state="sent",
                        answer={"type": "text", "content": "您好，我是智能客服。"},
                        received_at=before, answered_at=before)  # fmt: skip
    asyncio.run(_add(seeded_url, menu, tap))
    # The tap on 人工客服 sends "RG" to the assistant, which hands the conversation over.
    cid = _open(client, "wechat", OPENID, "RG")
    detail = client.get(f"/api/v1/conversations/{cid}").json()
    assert detail["messages"][0]["body"] == "「菜单：人工客服」"
    assert detail["subject"] == "「菜单：人工客服」"  # the conversation the tap opened
    listed = {c["id"]: c["subject"] for c in client.get("/api/v1/conversations").json()}
    queued = {i["id"]: i["subject"] for i in client.get("/api/v1/inbox").json()["queue"]}
    assert listed[cid] == queued[cid] == "「菜单：人工客服」"
    page = client.get(f"/workspace/conversations/{cid}").text
    assert "「菜单：人工客服」" in page and "<div>RG</div>" not in page
    bot = _bot_part(page)
    assert "「菜单：帮助」" in bot and "[click]" not in bot and "您好，我是智能客服。" in bot


def test_a_command_no_menu_sends_stays_as_typed(client) -> None:  # type: ignore[no-untyped-def]
    cid = _open(client, "wechat", OPENID, "RG")
    assert client.get(f"/api/v1/conversations/{cid}").json()["messages"][0]["body"] == "RG"


def test_the_web_chat_bot_part_is_on_the_agents_page(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC) - timedelta(minutes=3)
    session = WebchatSession(id="websession0001", site="demo", address=VISITOR,
                             expires_at=start + timedelta(hours=12), created_at=start)  # fmt: skip
    said = [("in", "customer", "大额存单怎么买？"), ("out", "bot", "大额存单20万元起存，可在手机银行购买。"),
            ("in", "customer", "我的卡6214 8300 0000 1126 488买不了 <b>急</b>"),
            ("out", "bot", "抱歉，我没能理解您的问题，已为您转接人工客服。")]  # fmt: skip
    rows = [
        WebchatMessage(
            session_id=session.id,
            seq=n + 1,
            direction=d,
            sender=s,
            text=t,
            state="answered" if d == "in" else "sent",
            created_at=start + timedelta(seconds=20 * n),
        )  # fmt: skip
        for n, (d, s, t) in enumerate(said)
    ]
    other = WebchatSession(id="websession0002", site="demo", address="v:websession0002",
                           expires_at=start + timedelta(hours=12), created_at=start)  # fmt: skip
    stranger = WebchatMessage(session_id=other.id, seq=1, direction="in", sender="customer",
                              text="别人的网聊", state="answered", created_at=start)  # fmt: skip
    asyncio.run(_add(seeded_url, session, *rows, other, stranger))
    cid = _open(client, "webchat", VISITOR, "转人工")
    bot = _bot_part(client.get(f"/workspace/conversations/{cid}").text)
    assert "大额存单怎么买？" in bot and "大额存单20万元起存，可在手机银行购买。" in bot
    assert bot.index("大额存单怎么买？") < bot.index("已为您转接人工客服")
    assert "6214********6488" in bot and "6214 8300 0000 1126 488" not in bot
    assert "&lt;b&gt;急&lt;/b&gt;" in bot  # customer text is escaped
    assert "别人的网聊" not in bot
