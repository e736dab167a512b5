"""The conversation page as three panes (issue 23, finding 8): the agent's list, the transcript
with the assistant's part before the hand-off and the hand-off reason, the customer context."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import make_engine, make_sessionmaker
from tests.conftest import login

pytestmark = pytest.mark.db
PHONE = "13912345678"


async def _bot_dialogue(url: str) -> None:
    """What the SMS assistant and this customer said just before they asked for a person."""
    engine = make_engine(url)
    start = datetime.now(UTC) - timedelta(minutes=3)
    rows = [("in", "mo", "查账单"), ("out", "reply", "请问您要查询哪张卡的账单？回复卡号后四位"),
            ("in", "mo", "我的信用卡被盗刷了 <script>x</script>"), ("out", "reply", "正在为您转接人工客服")]  # fmt: skip
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for n, (direction, kind, text) in enumerate(rows):
                session.add(SmsMessage(direction=direction, phone=PHONE, service_number="95511", text=text, kind=kind,
                                       state="delivered", created_at=start + timedelta(seconds=20 * n)))  # fmt: skip
            # Someone else's dialogue is not shown.
            session.add(SmsMessage(direction="in", phone="13700000000", service_number="95511", text="别人的短信",
                                   kind="mo", state="received", created_at=start))  # fmt: skip
    finally:
        await engine.dispose()


def test_three_panes_with_the_bots_part_and_the_handoff_reason(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_bot_dialogue(seeded_url))
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    routed = client.post("/api/v1/conversations", json={
        "channel": "sms", "contact": PHONE, "text": "人工", "keywords": ["盗刷"], "crisis": True, "sentiment": -0.7,
    }).json()  # fmt: skip
    page = client.get(f"/workspace/conversations/{routed['conversation_id']}").text
    for pane in (
        'data-testid="desk-list"',
        'data-testid="desk-transcript"',
        'data-testid="customer-panel"',
    ):
        assert pane in page
    assert (
        page.index('data-testid="desk-list"')
        < page.index('data-testid="desk-transcript"')
        < page.index('data-testid="customer-panel"')
    )
    bot = page[page.index('data-testid="bot-part"') : page.index('data-testid="messages"')]
    assert "请问您要查询哪张卡的账单" in bot and "查账单" in bot and "智能助手" in bot
    assert "&lt;script&gt;" in bot and "<script>x" not in bot  # customer text is escaped
    assert "别人的短信" not in page
    reason = page[page.index('data-testid="handoff-reason"') :][:600]
    assert "疑似盗刷或紧急情况" in reason and "负面情绪" in reason and "盗刷" in reason
    # The list pane shows the supervisor's queue with this conversation marked as current.
    assert 'aria-current="page"' in page
