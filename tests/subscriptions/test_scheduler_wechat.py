"""WeChat subscribers get their notices as template messages, once, through the real WeChat
channel and its API simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kefu.subscriptions.scheduler import SubscriptionScheduler
from kefu.subscriptions.service import Service, subscribe
from tests.channels.wechat.harness import bind_openid, client, database, running
from tests.channels.wechat.test_outbound import _hello
from tests.conftest import AS_OF

pytestmark = pytest.mark.db


class NoSms:
    """The SMS outbox: nobody here subscribed by SMS, so it must stay unused."""

    async def enqueue_many(self, db: Any, items: Any) -> list[Any]:
        assert not items, "an SMS was queued for a WeChat-only subscriber"
        return []


async def test_a_wechat_subscriber_gets_a_template_once(seeded_url: str) -> None:
    customer_id = await bind_openid(seeded_url, "o-sched", "C0000000003")
    async with running(seeded_url) as kefu, client() as http:
        await _hello(kefu, http, "o-sched")
        bank = kefu.app.state.bank
        statements = await bank.list_statements(
            ["C0000000003"], date_field="statement_date", start=AS_OF - timedelta(days=45),
            end=AS_OF,
        )  # fmt: skip
        today = max(s.statement_date for s in statements)
        async with database(seeded_url) as db:
            await subscribe(db, customer_id=customer_id, service=Service.BILL_READY,
                            channel="wechat", actor="test")  # fmt: skip
            await db.commit()
        scheduler = SubscriptionScheduler(
            sessionmaker=kefu.app.state.sessionmaker, bank=bank, outbox=NoSms(),
            wechat=kefu.app.state.wechat_runtime.outbound,
        )  # fmt: skip
        first = await scheduler.run_once(today)
        sent = kefu.sim.messages(touser="o-sched")
        assert [m.body["template_id"] for m in sent] == ["TPL-BILL"]
        assert first.queued == 1 and first.by_service == {"bill_ready": 1}
        assert "账单" in sent[0].body["data"]["first"]["value"]
        again = await scheduler.run_once(today)  # a re-run (or a restart) sends nothing more
        assert again.queued == 0 and again.already_sent == 1
        assert len(kefu.sim.messages(touser="o-sched")) == 1
