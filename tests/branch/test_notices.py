"""'3 ahead' on the channel the ticket came from: SMS in the transaction, a WeChat template
after the commit, a web chat message in the transaction (woken after); each ticket once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch import notices, queue
from tests.branch.conftest import NOW

pytestmark = pytest.mark.db


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def enqueue(
        self, db: object, *, to: str, text: str, kind: str, idempotency_key: str
    ) -> None:
        self.calls.append(("sms", (to, text, idempotency_key)))

    async def notify_requested(self, account: str, openid: str, **kw: Any) -> bool:
        self.calls.append(("wechat", (account, openid, kw["text"], kw["idempotency_key"])))
        return True

    async def notify(self, db: object, session_id: str, text: str) -> bool:
        self.calls.append(("webchat", (session_id, text)))
        return session_id != "gone"


async def test_each_ticket_is_told_once_on_its_own_channel(session: AsyncSession) -> None:
    db = session
    counter = await queue.add_counter(db, branch_code="SZ001", number=1, services=["cash"])
    await queue.set_counter_state(db, counter_id=counter.id, state="open")
    keys = [None, "phone:13800138000", notices.wechat_key("hall", "oPENID1"),
            notices.webchat_key("s1"), notices.webchat_key("gone")]  # fmt: skip
    tickets = [await queue.take_ticket(db, branch_code="SZ001", service_code="cash",
                                       customer_key=k, notify_ahead=3 if k else None, now=NOW)
               for k in keys]  # fmt: skip
    recorder = Recorder()
    woken: list[str] = []
    state = SimpleNamespace(
        sms=recorder, wechat_runtime=SimpleNamespace(outbound=recorder),
        webchat=SimpleNamespace(notify=recorder.notify,
                                watchers=SimpleNamespace(wake=woken.append)),
    )  # fmt: skip
    await queue.call_next(db, counter_id=counter.id, now=NOW)  # the first: 3 ahead of the last
    due = await queue.due_notices(db, "SZ001")
    assert sorted(t.id for t, _ in due) == sorted(t.id for t in tickets[1:])
    after = await notices.send(state, db, "深圳分行", due)
    kinds = [kind for kind, _ in recorder.calls]
    assert kinds == ["sms", "webchat", "webchat"]  # WeChat waits for the commit
    assert recorder.calls[0][1][0] == "13800138000" and "A002" in recorder.calls[0][1][1]
    assert len(after) == 2  # the WeChat send and the live chat's wake; not the gone chat
    for go in after:
        await go()
    account, openid, text, key = recorder.calls[-1][1]
    assert (account, openid) == ("hall", "oPENID1") and "A003" in text
    assert key == f"branch-ticket:{tickets[2].id}" and woken == ["s1"]
    await queue.call_next(db, counter_id=counter.id, now=NOW)
    assert await queue.due_notices(db, "SZ001") == []  # once each
