"""Issue 23, finding 7: the inbox, the conversation page and the supervisor's queue and SLA
tables name the same queue for a conversation: the one it waits in now. A credit-card
conversation that waited past its first target's timeout (300 s) is in 综合 (general)
everywhere, not in 信用卡 on one page and 综合 on another."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kefu.db.engine import make_engine, make_sessionmaker
from kefu.routing.models import RoutingTask
from tests.conftest import login

pytestmark = pytest.mark.db


async def _waited_and_breached(url: str, conversation_id: int) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            task = await session.get(RoutingTask, conversation_id)
            assert task is not None and task.queue == "credit_card"
            task.enqueued_at = datetime.now(UTC) - timedelta(minutes=10)
            task.state, task.agent_id, task.breached = "waiting", None, "first_response"
    finally:
        await engine.dispose()


def test_every_view_names_the_queue_it_waits_in_now(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    routed = client.post("/api/v1/conversations", json={
        "channel": "sms", "contact": "13700001111", "text": "信用卡账单不对"}).json()  # fmt: skip
    cid = routed["conversation_id"]
    counted = {
        q["name"]: q["waiting"] for q in client.get("/api/v1/supervisor/overview").json()["queues"]
    }
    asyncio.run(_waited_and_breached(seeded_url, cid))

    inbox = {i["id"]: i for i in client.get("/api/v1/inbox").json()["queue"]}
    overview = client.get("/api/v1/supervisor/overview").json()
    flagged = {f["conversation_id"]: f for f in overview["flagged"]}
    detail = client.get(f"/api/v1/conversations/{cid}").json()
    assert (
        inbox[cid]["queue"] == flagged[cid]["queue"] == detail["routing"]["queue_now"] == "general"
    )
    assert inbox[cid]["queue_label"] == flagged[cid]["queue_label"] == "综合"
    assert detail["routing"]["queue_label"] == "综合"
    waiting = {q["name"]: q["waiting"] for q in overview["queues"]}
    assert waiting["general"] == counted["general"] + 1
    assert waiting["credit_card"] == counted["credit_card"] - 1
    # The SLA that breached is the queue it entered by (the one it promised), in both views.
    assert inbox[cid]["sla"] == "breached"
    page = client.get("/supervisor/queues").text
    assert f'<a href="/workspace/conversations/{cid}">{cid}</a></td><td>综合</td>' in page
