"""notify_staff: a template message to a member of staff who follows the account (the crisis
desk's alerts) goes out without any customer subscription, once per idempotency key; a template
the account lacks is recorded as failed, not sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.channels.wechat.models import WechatOutbound
from kefu.channels.wechat.simulator.follower import post_callback, text_xml
from tests.channels.wechat.harness import client, database, running

pytestmark = pytest.mark.db


async def test_a_staff_template_needs_no_subscription_and_goes_once(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        kefu.follow("o-duty")
        target = kefu.target()
        await post_callback(http, target, text_xml(target, "o-duty", "你好", 4242))
        outbound = kefu.app.state.wechat_runtime.outbound
        data = {"first": "舆情预警", "keyword1": "盗刷"}
        for _ in range(2):  # a retried run: the same key sends nothing more
            assert await outbound.notify_staff("bank", "o-duty", kind="service_reply", data=data,
                                               idempotency_key="crisis-notice:1")  # fmt: skip
        sent = kefu.sim.messages(touser="o-duty")
        assert [s.body["template_id"] for s in sent] == ["TPL-REPLY"]
        assert not await outbound.notify_staff("bank", "o-duty", kind="crisis_alert", data=data)
        assert not await outbound.notify_staff("nobody", "o-duty", kind="service_reply", data=data)
        assert len(kefu.sim.messages(touser="o-duty")) == 1
    async with database(seeded_url) as db:
        rows = (await db.scalars(select(WechatOutbound).where(WechatOutbound.purpose == "staff_alert")
                                 .order_by(WechatOutbound.id))).all()  # fmt: skip
        assert [(r.state, r.errcode) for r in rows] == [("sent", None), ("failed", 40037)]
